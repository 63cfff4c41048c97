#!/usr/bin/env node
// Command round trip through one live-response session: an analyst's submit of `processes` or `dir PATH`
// until its result event, against one real `custody agent run` process, first as the only agent of the
// server and then with N-1 more agents connected and idle (bare WebSocket agents, as live-agents.mjs
// holds them). The peer: the same server's GET /healthz over the same kind of keep-alive mTLS connection,
// measured in the same state (it is the floor of any request: TLS, routing, no vault, no device).
// Uses dist/ (run `pnpm exec tsc -b` first).
//   node scripts/bench/live-roundtrip.mjs [--agents 500] [--runs 200]
import { execFileSync, execSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectAll, enrollDevices } from "./lib/agents.mjs";
import { identityParts, send, startJsonChild } from "./lib/server.mjs";

const root = new URL("../../", import.meta.url).pathname;
const dist = (pkg, file = "index.js") => join(root, "packages", pkg, "dist", file);
const bin = dist("cli", "bin.js");

/** custody serve on a fresh vault: live response on, `idle` devices enrolled, a token for the real agent. */
async function custodyChild(dir, idle) {
  const { Vault } = await import(dist("vault"));
  const { startServer } = await import(dist("server"));
  const { vault, identityPem } = await Vault.init(join(dir, "vault"), { custodian: "bench", keyBits: 2048 });
  writeFileSync(join(dir, "bench.pem"), identityPem, { mode: 0o600 });
  const bench = vault.authenticate(identityPem);
  await vault.setLiveResponse(bench, true);
  const csrPem = readFileSync(join(dir, "device.csr"), "utf8");
  const devices = idle > 0 ? await enrollDevices(vault, bench, csrPem, idle) : [];
  writeFileSync(join(dir, "devices.json"), JSON.stringify(devices));
  const { token } = await vault.createEnrollmentToken(bench, {});
  writeFileSync(join(dir, "token.txt"), token);
  const server = await startServer({
    vault,
    port: 0,
    names: ["127.0.0.1"],
    writeServerFile: false,
    limits: { maxConnections: idle + 100, requestsPerSecond: 1e9, requestBurst: 1e9 },
  });
  process.stdout.write(`${JSON.stringify({ url: server.urls[0], pid: process.pid })}\n`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

function startChild(args) {
  return startJsonChild(new URL(import.meta.url).pathname, args);
}

function custody(cwd, args) {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`custody ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), n: sorted.length };
}

/** One command: submit, then follow its events until the result; milliseconds. */
async function roundTrip(live, sessionId, line) {
  const start = performance.now();
  const entry = await live.submit(sessionId, line);
  for await (const event of live.events(entry.id)) {
    if (event.type !== "result") continue;
    if (event.command.status !== "completed")
      throw new Error(`${line}: ${event.command.status} ${JSON.stringify(event.command.error)}`);
    return performance.now() - start;
  }
  throw new Error(`no result for ${line}`);
}

async function series(runs, once) {
  for (let i = 0; i < Math.min(20, runs); i++) await once(); // warm-up: JIT, TLS sessions, page cache
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  return summary(samples);
}

async function measure(live, sessionId, healthz, runs) {
  return {
    processes: await series(runs, () => roundTrip(live, sessionId, "processes")),
    dir: await series(runs, () => roundTrip(live, sessionId, "dir /etc")),
    healthz: await series(runs, healthz),
  };
}

async function main() {
  const { values } = parseArgs({
    options: { agents: { type: "string", default: "500" }, runs: { type: "string", default: "200" } },
  });
  const agents = Number(values.agents);
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(tmpdir(), "custody-roundtrip-bench-"));
  const children = [];
  try {
    execFileSync(
      "openssl",
      ["req", "-new", "-newkey", "rsa:3072", "-nodes", "-keyout", "device.key", "-out", "device.csr"].concat([
        "-subj",
        "/CN=bench",
      ]),
      { cwd: dir, stdio: "pipe" },
    );
    const server = await startChild(["custody", dir, String(agents - 1)]);
    children.push(server.child);
    const ca = readFileSync(join(dir, "vault", "pki", "ca.pem"), "utf8");
    const identityPem = readFileSync(join(dir, "bench.pem"), "utf8");
    writeFileSync(join(dir, "ca.pem"), ca);
    const token = readFileSync(join(dir, "token.txt"), "utf8");
    const enrollArgs = ["agent", "enroll", "--server", server.url, "--token", token, "--dir", "agent"];
    const { deviceId } = JSON.parse(custody(dir, [...enrollArgs, "--ca", "ca.pem", "--json"]));
    writeFileSync(join(dir, "policy.json"), custody(dir, ["agent", "policy"]), { mode: 0o600 });
    const agent = spawn(
      process.execPath,
      [bin, "agent", "run", "--dir", join(dir, "agent"), "--policy", join(dir, "policy.json")],
      { stdio: "ignore", env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" } },
    );
    children.push(agent);
    const { createVaultClient, createLiveClient } = await import(dist("client"));
    const vault = createVaultClient({ baseUrl: server.url, identityPem });
    const live = createLiveClient({ baseUrl: server.url, identityPem });
    for (let i = 0; !(await vault.listDevices()).find((d) => d.deviceId === deviceId)?.online; i++) {
      if (i > 400) throw new Error("the agent never connected");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const https = new Agent({ keepAlive: true, maxSockets: 1, ...identityParts(identityPem), ca });
    const healthz = async () => {
      const start = performance.now();
      const answer = await send(server.url, "/healthz", { agent: https });
      if (answer.status !== 200) throw new Error(`/healthz ${answer.status}`);
      return performance.now() - start;
    };

    const session = await live.openSession(deviceId, "BENCH");
    const alone = await measure(live, session.id, healthz, runs);
    const devices = JSON.parse(readFileSync(join(dir, "devices.json"), "utf8"));
    const key = readFileSync(join(dir, "device.key"), "utf8");
    const held = await connectAll(server.url, devices, key, ca);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const online = (await vault.listDevices()).filter((d) => d.online).length;
    const crowded = await measure(live, session.id, healthz, runs);
    await live.closeSession(session.id);
    for (const ws of held.sockets) ws.terminate();
    https.destroy();
    vault.close();
    live.close();

    const ms = (value) => value.toFixed(2);
    console.log(`load: ${execSync("uptime").toString().trim()}`);
    console.log(`${runs} round trips each after 20 warm-up; one session, one real agent process\n`);
    console.log("| agents online | what | p50 ms | p99 ms | p50 / healthz p50 |");
    console.log("| ---: | --- | ---: | ---: | ---: |");
    for (const [count, m] of [
      [1, alone],
      [online, crowded],
    ]) {
      for (const [name, s] of [
        ["`processes`", m.processes],
        ["`dir /etc`", m.dir],
        ["GET /healthz, same mTLS keep-alive (peer)", m.healthz],
      ])
        console.log(
          `| ${count} | ${name} | ${ms(s.p50)} | ${ms(s.p99)} | ${(s.p50 / m.healthz.p50).toFixed(1)}x |`,
        );
    }
    console.log(
      `\nwith ${online} agents vs 1: processes p50 ${(crowded.processes.p50 / alone.processes.p50).toFixed(2)}x, dir p50 ${(crowded.dir.p50 / alone.dir.p50).toFixed(2)}x`,
    );
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", resolve);
            child.kill("SIGTERM");
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "custody") await custodyChild(process.argv[3], Number(process.argv[4]));
else await main();
