#!/usr/bin/env node
// Audit log benchmark. Run after `pnpm exec tsc -b packages/audit` (it uses the built dist/):
//   node --expose-gc scripts/bench/audit.mjs [--records 1000000] [--rounds 5] [--seal] [--blocking]
// --blocking writes with a synchronous write in the calling thread (openFileAuditLog's blockingWrites).
// --seal opens every log with a seal key (each line carries an HMAC of its hash), as the vault does.
// --dist OTHER/packages/audit/dist measures another build (e.g. main's), for A/B runs alternated by hand.
// The peer is the machine's raw write+fdatasync of one line: the physical limit of a durable append.
// Raw and ours run alternately in rounds (disks and shared CPUs drift); the table shows medians.
import { randomBytes } from "node:crypto";
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { auditEvent, sampleLine, vaultSigner } from "./lib/audit.mjs";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "5" },
    sequential: { type: "string", default: "1000" },
    concurrent: { type: "string", default: "50000" },
    seal: { type: "boolean", default: false },
    blocking: { type: "boolean", default: false },
    dist: { type: "string", default: fileURLToPath(new URL("../../packages/audit/dist", import.meta.url)) },
  },
});
const { openFileAuditLog, verifyAuditLog } = await import(
  pathToFileURL(join(resolve(values.dist), "index.js")).href
);
const sealed = values.seal ? { sealKey: randomBytes(32) } : {};
const ROUNDS = Number(values.rounds);
const SEQUENTIAL = Number(values.sequential);
const CONCURRENT = Number(values.concurrent);

const base = await mkdtemp(join(tmpdir(), "custody-audit-bench-"));
const { signer, trust } = await vaultSigner();

let n = 0;
const event = () => auditEvent(n++);
const perSecond = (count, ms) => count / (ms / 1000);
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

function raw(count, file) {
  const fd = openSync(file, "a");
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    writeSync(fd, sampleLine);
    fdatasyncSync(fd);
  }
  const ms = performance.now() - start;
  closeSync(fd);
  return perSecond(count, ms);
}

async function appenders(log, total, concurrency) {
  let left = total;
  const worker = async () => {
    while (left > 0) {
      left -= 1;
      await log.append(event());
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return perSecond(total, performance.now() - start);
}

// Disk speed drifts by several times within seconds on a shared machine: raw and ours alternate in
// short slices and each total is compared with the raw slices around it.
const rounds = { raw: [], sequential: [], seqRatio: [], seqCpu: [], concurrent: [], concRatio: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  const dir = join(base, `round-${round}`);
  const log = await openFileAuditLog({
    dir,
    signer,
    checkpointIntervalMs: 0,
    ...sealed,
    blockingWrites: values.blocking,
  });
  const slice = Math.max(1, Math.floor(SEQUENTIAL / 10));
  let rawMs = 0;
  let oursMs = 0;
  let oursCpuUs = 0;
  for (let i = 0; i < 10; i += 1) {
    rawMs += (slice / raw(slice, join(base, `raw-${round}.log`))) * 1000;
    const cpu = process.cpuUsage();
    oursMs += (slice / (await appenders(log, slice, 1))) * 1000;
    const used = process.cpuUsage(cpu);
    oursCpuUs += used.user + used.system;
  }
  const peer = perSecond(slice * 10, rawMs);
  const before = raw(slice, join(base, `raw-${round}.log`));
  const concurrent = await appenders(log, CONCURRENT, 64);
  const after = raw(slice, join(base, `raw-${round}.log`));
  await log.close();
  rounds.raw.push(peer);
  rounds.sequential.push(perSecond(slice * 10, oursMs));
  rounds.seqRatio.push(rawMs / oursMs);
  rounds.seqCpu.push(oursCpuUs / (slice * 10));
  rounds.concurrent.push(concurrent);
  rounds.concRatio.push(concurrent / ((before + after) / 2));
}

/** Verifies a log of `count` records; reports the rate and how much the heap grew at its peak. */
async function verifyRun(count) {
  const dir = join(base, `verify-${count}`);
  const log = await openFileAuditLog({
    dir,
    signer,
    checkpointEvery: 10_000,
    checkpointIntervalMs: 0,
    ...sealed,
  });
  await appenders(log, count, 1024);
  await log.close();
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 10);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const report = await verifyAuditLog({ dir }, { trust });
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  clearInterval(sampler);
  if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.problem)}`);
  await rm(dir, { recursive: true, force: true });
  return {
    count,
    checkpoints: report.checkpoints,
    rate: perSecond(count, ms),
    cpuRate: perSecond(count, cpuMs),
    heapGrowth: heapPeak - heapBefore,
  };
}
const small = await verifyRun(Math.max(1, Math.floor(Number(values.records) / 10)));
const large = await verifyRun(Number(values.records));
await rm(base, { recursive: true, force: true });

const fmt = (x) => Math.round(x).toLocaleString("en-US");
const mib = (x) => `${(x / 1048576).toFixed(1)} MiB`;
console.log(
  `| work | records/s (median of ${ROUNDS} rounds) | vs raw write+fdatasync (median of per-round ratios) | target |`,
);
console.log("|---|---:|---:|---|");
console.log(`| raw write+fdatasync, one line (peer) | ${fmt(median(rounds.raw))} | 1.00x | |`);
console.log(
  `| sequential durable appends (${median(rounds.seqCpu).toFixed(1)} us CPU each, all threads) | ${fmt(median(rounds.sequential))} | ${median(rounds.seqRatio).toFixed(2)}x | >= 0.9x (issue 16) |`,
);
console.log(
  `| 64 concurrent appenders, group commit | ${fmt(median(rounds.concurrent))} | ${median(rounds.concRatio).toFixed(1)}x | >= 50,000/s |`,
);
for (const run of [small, large]) {
  console.log(
    `| verify ${fmt(run.count)} records (${run.checkpoints} checkpoints), heap peak +${mib(run.heapGrowth)}, ${fmt(run.cpuRate)} per CPU-second | ${fmt(run.rate)} | | >= 300,000/s, flat memory |`,
  );
}
