#!/usr/bin/env node
// Alerting overhead: the same audited vault operations with and without the alert engine attached
// (default rules; a pino-style log sink and a webhook sink posting to a local receiver), and the raw
// rate of `observe` on synthetic records. Uses the built dist/.
//   node scripts/bench/alerts.mjs [--ops 2000] [--runs 3]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const dist = (pkg) => new URL(`../../packages/${pkg}/dist/index.js`, import.meta.url).href;
const { values } = parseArgs({
  options: { ops: { type: "string", default: "2000" }, runs: { type: "string", default: "3" } },
});
const ops = Number(values.ops);
const runs = Number(values.runs);
const { Vault } = await import(dist("vault"));
const { createAlertEngine, createLogSink, createWebhookSink } = await import(dist("alerts"));
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const RECEIVER = `
  const server = require("node:http").createServer((request, response) => {
    request.resume();
    request.on("end", () => response.writeHead(204).end());
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));`;

// The receiver runs in its own process, as a SIEM would: its work is not counted against the vault.
const receiver = spawn(process.execPath, ["-e", RECEIVER], { stdio: ["ignore", "pipe", "inherit"] });
const [port] = await once(receiver.stdout, "data");
const url = `http://127.0.0.1:${String(port).trim()}/alerts`;
const base = await mkdtemp(join(tmpdir(), "custody-alerts-bench-"));
try {
  const dir = join(base, "vault");
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  const alice = created.vault.authenticate(created.identityPem);
  const mallory = await created.vault.issueIdentity(alice, "mallory");
  await created.vault.close();
  const variants = {
    "no engine (the peer)": () => undefined,
    "engine, log sink": () => createAlertEngine({ sinks: [createLogSink(silent)] }),
    "engine, log + webhook sinks": () =>
      createAlertEngine({
        sinks: [createLogSink(silent), createWebhookSink({ url, secret: "s".repeat(32) })],
      }),
  };
  const best = {};
  const bestCpu = {};
  let alerts = 0;
  // Interleaved runs, best of each: the machine's load moves between them.
  for (let run = 0; run < runs; run++) {
    for (const [name, make] of Object.entries(variants)) {
      const engine = make();
      const { ms, cpuMs } = await timeOps(dir, mallory.identityPem, engine);
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ms);
      bestCpu[name] = Math.min(bestCpu[name] ?? Number.POSITIVE_INFINITY, cpuMs);
      if (engine) alerts = engine.stats().alerts;
      await engine?.close();
    }
  }
  const peer = best["no engine (the peer)"];
  const peerCpu = bestCpu["no engine (the peer)"];
  console.log(
    `| ${ops} refused vault operations (1 audit record each; ${alerts} alerts per run) | ops/s | time vs the peer | CPU ms per op | CPU vs the peer |`,
  );
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, ms] of Object.entries(best)) {
    const cpu = bestCpu[name];
    console.log(
      `| ${name} | ${rate(ms)} | ${(ms / peer).toFixed(2)} | ${(cpu / ops).toFixed(3)} | ${(cpu / peerCpu).toFixed(2)} |`,
    );
  }
  const observeRate = measureObserve(createAlertEngine);
  console.log("");
  console.log(`| observe() alone, default rules, synthetic records | ${Math.round(observeRate)} records/s |`);
  console.log("|---|---|");
} finally {
  await rm(base, { recursive: true, force: true });
  receiver.kill();
}

function rate(ms) {
  return Math.round((ops / ms) * 1000);
}

async function timeOps(dir, identityPem, engine) {
  const vault = await Vault.open({ dir, ...(engine ? { onAuditRecord: (r) => engine.observe(r) } : {}) });
  const principal = vault.authenticate(identityPem);
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < ops; i++) await vault.list(principal, { caseId: "B" }).catch(() => {});
  const ms = performance.now() - start;
  await engine?.flush();
  // CPU time includes the deliveries (flushed above): what alerting costs this process, whatever the load.
  const used = process.cpuUsage(cpu);
  await vault.close();
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

function measureObserve(create) {
  const engine = create({ sinks: [] });
  const records = Array.from({ length: 100_000 }, (_, seq) => ({
    seq,
    time: new Date(1_800_000_000_000 + seq).toISOString(),
    actor: `user-${seq % 5000}`,
    action: seq % 3 === 0 ? "evidence.read" : "evidence.list",
    target: `item:A/${seq}`,
    outcome: seq % 4 === 0 ? "deny" : "allow",
    reason: "grant g-1",
    details: { caseId: "A" },
    prev: "0".repeat(64),
    hash: "ab".repeat(32),
  }));
  const start = performance.now();
  for (const record of records) engine.observe(record);
  return (records.length / (performance.now() - start)) * 1000;
}
