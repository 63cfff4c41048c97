import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVaultClient, type VaultClient } from "@custody/client";
import { certificateRoles } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Remote collection end to end: `custody serve`, an enrolled agent (`custody agent run`) that makes the
// package on the device and signs it with its own collector certificate, and the analyst's CLI. The
// attacks replay the protocol as the device itself (its real key, after its agent stopped).
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-collect-live-"));
const vault = join(work, "vault");
const CASE = "IR-2026-77";
const ONLY = "SystemInformation,UsersAndGroups";
const children: ChildProcess[] = [];
let url = "";
let alice: VaultClient;
let deviceId = "";

function custody(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function start(args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code}: ${output}`)));
  });
}

const as = (who: string) => ["--server", url, "--identity", join(work, `${who}.pem`)];

async function online(want: boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const device = (await alice.listDevices()).find((d) => d.deviceId === deviceId);
    if (device?.online === want) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`device never went ${want ? "online" : "offline"}`);
}

async function caseItems(): Promise<string[]> {
  // the sessions' transcripts are items too: only the packages count here
  return (await alice.list({ caseId: CASE }))
    .filter((item) => item.kind === "package")
    .map((item) => item.id);
}

beforeAll(async () => {
  expect(custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]).code).toBe(0);
  await start(["serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"], /listening on/);
  url = (JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as { urls: string[] }).urls[0] ?? "";
  alice = createVaultClient({ baseUrl: url, identityPem: readFileSync(join(work, "alice.pem"), "utf8") });
  writeFileSync(join(work, "rita.pem"), (await alice.issueIdentity("rita", "person")).identityPem, {
    mode: 0o600,
  });
  await alice.setLiveResponse(true);
  const { token } = await alice.createEnrollmentToken({ caseId: CASE });
  writeFileSync(join(work, "ca.pem"), readFileSync(join(vault, "pki", "ca.pem")));
  const enrolled = custody([
    "agent",
    "enroll",
    "--server",
    url,
    "--token",
    token,
    "--dir",
    "agent",
    "--ca",
    "ca.pem",
    "--json",
  ]);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;
  writeFileSync(join(work, "policy.json"), custody(["agent", "policy"]).stdout, { mode: 0o600 });
  await start(
    ["agent", "run", "--dir", join(work, "agent"), "--policy", join(work, "policy.json")],
    /welcome|connected|agent starting/,
  );
  await online(true);
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice.grant({ name: "rita", role: "responder", scope });
}, 180_000);

afterAll(async () => {
  alice?.close();
  for (const child of children.reverse()) {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
  }
  rmSync(work, { recursive: true, force: true });
});

describe("collect in a live session", () => {
  let itemId = "";

  it("makes the package on the device, signed by the device's own collector certificate, into the case with the reason", async () => {
    const ran = custody([
      "live",
      "run",
      deviceId,
      "--case",
      CASE,
      ...as("rita"),
      "--",
      "collect",
      "-only",
      ONLY,
      "-reason",
      "EDR alert 4411: beaconing",
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    itemId = ran.stdout.trim().split("\n").at(-1) ?? "";
    expect(itemId).toMatch(/^[0-9a-f]{64}$/);
    const item = await alice.show({ id: itemId, caseId: CASE });
    expect(item.kind).toBe("package");
    expect(item.package?.verified).toBe(true);
    expect(item.package?.deviceId).toBe(deviceId);
    expect(item.package?.signer).toContain(`CN=${deviceId}`);
    expect(item.acquisition.how).toBe("collect");
    expect(item.labels).toMatchObject({
      device: deviceId,
      analyst: "rita",
      reason: "EDR alert 4411: beaconing",
      kind: "investigation-package",
    });
    expect(item.labels.session).toMatch(/^S-/);
    expect(item.labels.command).toMatch(/^C-/);
    // the device's signer: issued by the vault CA to this device, for device packages only
    const cert = new X509Certificate(readFileSync(join(work, "agent", "collector-certificate.pem")));
    expect(certificateRoles(cert)).toEqual(["device-collector"]);
    expect(cert.subject).toContain(`CN=${deviceId}`);
    const audit = JSON.stringify(await alice.showAudit());
    expect(audit).toContain("device.collector-certificate");
    expect(audit).toContain("EDR alert 4411: beaconing");
  }, 240_000);

  it("has a custody report that verifies offline", () => {
    const out = join(work, "collect-report.json");
    const made = custody(["report", itemId, "--case", CASE, "--out", out, ...as("alice")]);
    expect(made.code, made.stderr).toBe(0);
    const verified = custody(["report", "verify", out, "--ca", join(work, "ca.pem")]);
    expect(verified.code, verified.stderr).toBe(0);
  }, 120_000);

  it("is refused without a reason, before anything is sent", async () => {
    const before = await caseItems();
    for (const reason of [[], ["-reason", "   "]]) {
      const ran = custody([
        "live",
        "run",
        deviceId,
        "--case",
        CASE,
        ...as("rita"),
        "--",
        "collect",
        "-only",
        ONLY,
        ...reason,
      ]);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain("ERR_REASON_REQUIRED");
    }
    const outside = custody(["devices", "collect", deviceId, "--case", CASE, "--only", ONLY, ...as("rita")]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain("ERR_REASON_REQUIRED");
    expect(await caseItems()).toEqual(before);
  }, 120_000);
});

describe("custody devices collect", () => {
  it("collects an online device outside a session, with the reason", async () => {
    const ran = custody([
      "devices",
      "collect",
      deviceId,
      "--case",
      CASE,
      "--reason",
      "weekly baseline of a server",
      "--only",
      "SystemInformation",
      ...as("rita"),
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const itemId = ran.stdout.trim();
    const item = await alice.show({ id: itemId, caseId: CASE });
    expect(item.package?.verified).toBe(true);
    expect(item.labels.reason).toBe("weekly baseline of a server");
  }, 240_000);
});
