import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVaultClient, type VaultClient } from "@custody/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestNamespace } from "./support/netns.js";

// isolate / release for real: the agent runs inside a network namespace this test creates, joined to
// the server by a veth pair; nftables inside that namespace is what isolate changes.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-isolate-"));
const vault = join(work, "vault");
const CASE = "IR-2026-15";
const net = createTestNamespace("iso", 213);
const HOST_IP = net.hostIp;
const children: ChildProcess[] = [];
let alice: VaultClient;
let url = "";
let deviceId = "";
let other: Server;
let otherPort = 0;
const unavailable = net.unavailable;

function custody(args: string[], inNamespace = false) {
  const argv = [process.execPath, BIN, ...args];
  const r = inNamespace
    ? spawnSync("ip", net.wrap(argv).slice(1), { cwd: work, encoding: "utf8" })
    : spawnSync(argv[0] as string, argv.slice(1), {
        cwd: work,
        encoding: "utf8",
        env: { ...process.env, CUSTODY_VAULT: vault },
      });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function start(argv: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`${argv.join(" ")} exited ${code}: ${output}`)));
  });
}

function live(line: string[]) {
  return custody([
    "live",
    "run",
    deviceId,
    "--case",
    CASE,
    "--server",
    url,
    "--identity",
    join(work, "rita.pem"),
    "--",
    ...line,
  ]);
}

beforeAll(async () => {
  if (unavailable !== undefined) return;
  expect(custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]).code).toBe(0);
  await start(
    [process.execPath, BIN, "serve", "--vault", vault, "--listen", `${HOST_IP}:0`, "--name", HOST_IP],
    /listening on/,
  );
  url = (JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as { urls: string[] }).urls[0] ?? "";
  alice = createVaultClient({ baseUrl: url, identityPem: readFileSync(join(work, "alice.pem"), "utf8") });
  writeFileSync(join(work, "rita.pem"), (await alice.issueIdentity("rita", "person")).identityPem, {
    mode: 0o600,
  });
  await alice.setLiveResponse(true);
  const { token } = await alice.createEnrollmentToken({ caseId: CASE });
  writeFileSync(join(work, "ca.pem"), readFileSync(join(vault, "pki", "ca.pem")));
  const enrolled = custody(
    [
      "agent",
      "enroll",
      "--server",
      url,
      "--token",
      token,
      "--dir",
      join(work, "agent"),
      "--ca",
      join(work, "ca.pem"),
      "--json",
    ],
    true,
  );
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;
  writeFileSync(join(work, "policy.json"), custody(["agent", "policy"]).stdout, { mode: 0o600 });
  await start(
    net.wrap([
      process.execPath,
      BIN,
      "agent",
      "run",
      "--dir",
      join(work, "agent"),
      "--policy",
      join(work, "policy.json"),
    ]),
    /welcome|connected|agent starting/,
  );
  for (let i = 0; i < 600; i++) {
    if ((await alice.listDevices()).find((d) => d.deviceId === deviceId)?.online) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice.grant({ name: "rita", role: "responder", scope });
  // another service on the server's host: what isolation must cut off
  other = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => other.listen(0, HOST_IP, resolve));
  otherPort = (other.address() as { port: number }).port;
}, 180_000);

afterAll(async () => {
  alice?.close();
  other?.close();
  for (const child of children.reverse()) {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
  }
  net.remove();
  rmSync(work, { recursive: true, force: true });
});

describe("isolate and release (nftables, inside a network namespace)", () => {
  it("isolate cuts everything but the vault server; the agent stays connected; release undoes it exactly", async (ctx) => {
    if (unavailable !== undefined) ctx.skip(`network namespace unavailable: ${unavailable}`);
    const before = net.nft("list", "ruleset");
    expect(net.reachable(otherPort)).toBe(true);

    const isolated = live(["isolate", "-output", "json"]);
    expect(isolated.code, isolated.stderr).toBe(0);
    expect(JSON.parse(isolated.stdout.trim())).toMatchObject({
      isolated: true,
      allowed: [`tcp ${HOST_IP}:${new URL(url).port}`],
    });
    expect(net.nft("list", "tables")).toContain("custody_isolation");
    expect(net.reachable(otherPort)).toBe(false);
    // the live connection (and a new command over it) still works
    const listed = live(["dir", "/", "-output", "json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('"name"');
    // isolating again replaces the table whole (one table, same rules)
    expect(live(["isolate"]).code).toBe(0);

    const released = live(["release", "-output", "json"]);
    expect(released.code, released.stderr).toBe(0);
    expect(JSON.parse(released.stdout.trim())).toMatchObject({ isolated: false, wasIsolated: true });
    expect(net.reachable(otherPort)).toBe(true);
    expect(net.nft("list", "ruleset")).toBe(before);

    const facts = (await alice.showAudit()).filter(
      (r) => r.action === "device.isolated" || r.action === "device.released",
    );
    expect(facts.map((r) => [r.action, r.actor, r.details.deviceId])).toEqual([
      ["device.isolated", "rita", deviceId],
      ["device.isolated", "rita", deviceId],
      ["device.released", "rita", deviceId],
    ]);
    expect(facts[0]?.details.allowed).toEqual([`tcp ${HOST_IP}:${new URL(url).port}`]);
  }, 120_000);
});
