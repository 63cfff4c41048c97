import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVaultClient, type VaultClient } from "@custody/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// An interrupted getfile resumes: a real `custody agent run` reaches a real `custody serve` through a
// TCP relay on loopback (TLS end to end, the relay sees only ciphertext), and the relay cuts the agent's
// upload connection once it has carried a third of the file. The agent asks the server how much it
// holds and sends only the rest; the item is the whole file under its digest.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-resume-"));
const vault = join(work, "vault");
const CASE = "IR-2026-13R";
const MiB = 1024 * 1024;
const children: ChildProcess[] = [];
let alice: VaultClient;
let url = "";
let deviceId = "";
let relay: Server;

/** Bytes each relayed connection carried from the agent; `cutAfter` arms one cut. */
const relayed: { bytes: number; cut: boolean }[] = [];
let cutAfter: number | undefined;

function startRelay(port: number): Promise<number> {
  relay = createServer((client: Socket) => {
    const upstream = connect(port, "127.0.0.1");
    const seen = { bytes: 0, cut: false };
    relayed.push(seen);
    client.on("data", (chunk: Buffer) => {
      seen.bytes += chunk.length;
      upstream.write(chunk);
      if (cutAfter !== undefined && seen.bytes > cutAfter) {
        cutAfter = undefined;
        seen.cut = true;
        client.destroy();
        upstream.destroy();
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  return new Promise((resolve) =>
    relay.listen(0, "127.0.0.1", () => resolve((relay.address() as { port: number }).port)),
  );
}

function custody(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A custody command run without blocking this process (the relay lives in it). */
function custodyAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

function start(args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
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

beforeAll(async () => {
  expect(custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]).code).toBe(0);
  await start(["serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"], /listening on/);
  url = (JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as { urls: string[] }).urls[0] ?? "";
  const relayPort = await startRelay(Number(new URL(url).port));
  alice = createVaultClient({ baseUrl: url, identityPem: readFileSync(join(work, "alice.pem"), "utf8") });
  await alice.setLiveResponse(true);
  const { token } = await alice.createEnrollmentToken({ caseId: CASE });
  writeFileSync(join(work, "ca.pem"), readFileSync(join(vault, "pki", "ca.pem")));
  const relayUrl = `https://127.0.0.1:${relayPort}`;
  const enrollArgs = ["agent", "enroll", "--server", relayUrl, "--token", token, "--dir", "agent"];
  // not spawnSync: the relay in this process has to move the enrollment's bytes meanwhile
  const enrolled = await custodyAsync([...enrollArgs, "--ca", "ca.pem", "--json"]);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;
  writeFileSync(join(work, "policy.json"), custody(["agent", "policy"]).stdout, { mode: 0o600 });
  await start(
    ["agent", "run", "--dir", join(work, "agent"), "--policy", join(work, "policy.json")],
    /welcome|connected|agent starting/,
  );
  for (let i = 0; ; i++) {
    const device = (await alice.listDevices()).find((d) => d.deviceId === deviceId) as { online?: boolean };
    if (device?.online) break;
    if (i > 600) throw new Error("the agent never came online");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 180_000);

afterAll(async () => {
  alice?.close();
  for (const child of children.reverse()) {
    if (child.exitCode !== null) continue;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  relay?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("getfile over a connection that is cut", () => {
  it("resumes from what the server staged and stores the whole file under its digest", async () => {
    const bytes = randomBytes(24 * MiB);
    const file = join(work, "memory.dump");
    writeFileSync(file, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const before = relayed.length;
    cutAfter = 8 * MiB;
    const taken = await custodyAsync([
      ...["live", "run", deviceId, "--case", CASE, "--server", url, "--identity", join(work, "alice.pem")],
      ...["--", "getfile", file, "-auto"],
    ]);
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stdout.trim()).toBe(sha256);
    // one upload connection was cut past 8 MiB; the next one carried less than the whole file
    const uploads = relayed.slice(before);
    const cut = uploads.filter((c) => c.cut);
    expect(cut.length).toBe(1);
    const after = uploads.slice(uploads.indexOf(cut[0] as (typeof uploads)[number]) + 1);
    const resumed = Math.max(...after.map((c) => c.bytes));
    expect(resumed).toBeGreaterThan(0);
    expect(resumed).toBeLessThan(bytes.length - 2 * MiB);
    // the item is the whole file
    const read = await alice.read({ id: sha256, caseId: CASE });
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of read.stream) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    expect({ size, sha256: hash.digest("hex") }).toEqual({ size: bytes.length, sha256 });
  }, 180_000);
});
