import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench } from "./support/live-e2e.ts";
import { createTestNamespace } from "./support/netns.js";

// isolate / release for real: the agent runs inside a network namespace this test creates, joined to
// the server by a veth pair; nftables inside that namespace is what isolate changes.
const CASE = "IR-2026-15";
const net = createTestNamespace("iso", 213);
const HOST_IP = net.hostIp;
const bench = new LiveBench({ host: HOST_IP, onDevice: (argv) => net.wrap(argv) });
const { work } = bench;
const alice = () => bench.custodian();
let url = "";
let deviceId = "";
let other: Server;
let otherPort = 0;
const unavailable = net.unavailable;

function live(line: string[]) {
  return bench.custody([
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
  await bench.serve(["rita"], CASE);
  url = bench.url;
  deviceId = bench.deviceId;
  await bench.startAgent();
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice().grant({ name: "rita", role: "responder", scope });
  // another service on the server's host: what isolation must cut off
  other = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => other.listen(0, HOST_IP, resolve));
  otherPort = (other.address() as { port: number }).port;
}, 180_000);

afterAll(async () => {
  other?.close();
  await bench.close();
  net.remove();
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

    const facts = (await alice().showAudit()).filter(
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
