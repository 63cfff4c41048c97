#!/usr/bin/env node
// Audit log benchmark. Run after `pnpm exec tsc -b packages/audit` (it uses the built dist/):
//   node --expose-gc scripts/bench/audit.mjs [--records 1000000] [--rounds 5] [--pair 10] [--seal]
//     [--against OTHER/packages/audit/dist]
// Sequential appends are measured three ways: through libuv's thread pool only (the default), with
// blockingWrites "when-alone" (a lone record written in the calling thread while writes are fast, others
// through the pool: what `custody serve` uses) and with blockingWrites (a synchronous write in the calling
// thread, what CLI commands use). Concurrent appenders are measured through the pool and "when-alone".
// --seal opens every log with a seal key (each line carries an HMAC of its hash), as the vault does.
// --dist OTHER/packages/audit/dist measures another build (e.g. main's), for A/B runs alternated by hand;
// --against OTHER/packages/audit/dist appends through that build too, in the same pairs as ours.
// The peer is the machine's raw write+fdatasync of one line: the physical limit of a durable append.
// Sequential appends are measured in pairs of a few lines each (raw, ours both ways, the thread-pool
// floor, and --against's build both ways, in a random order), so a swing of the disk's sync rate hits all of them
// alike; the ratios are medians of the per-pair ratios. The thread-pool floor is one O_DSYNC write per
// line through libuv's thread pool (fs.write with a callback): the least a durable append that does not
// block the event loop can cost, with nothing of the log around it.
import { randomBytes } from "node:crypto";
import { closeSync, constants, fdatasyncSync, openSync, write, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { auditEvent, sampleLine, vaultSigner } from "./lib/audit.mjs";
import { shuffled } from "./lib/shuffle.mjs";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "5" },
    sequential: { type: "string", default: "1000" },
    concurrent: { type: "string", default: "50000" },
    seal: { type: "boolean", default: false },
    pair: { type: "string", default: "10" },
    against: { type: "string" },
    dist: { type: "string", default: fileURLToPath(new URL("../../packages/audit/dist", import.meta.url)) },
  },
});
const { openFileAuditLog, verifyAuditLog } = await import(
  pathToFileURL(join(resolve(values.dist), "index.js")).href
);
const againstLog =
  values.against === undefined
    ? undefined
    : (await import(pathToFileURL(join(resolve(values.against), "index.js")).href)).openFileAuditLog;
const sealed = values.seal ? { sealKey: randomBytes(32) } : {};
const ROUNDS = Number(values.rounds);
const SEQUENTIAL = Number(values.sequential);
const PAIR = Math.max(1, Number(values.pair));
const CONCURRENT = Number(values.concurrent);

const loadAtStart = loadavg()[0];
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

/** One O_DSYNC write per line through the thread pool, each awaited: the floor of a non-blocking append. */
async function pool(count, file) {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC);
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    await new Promise((done, fail) => {
      write(fd, sampleLine, 0, sampleLine.length, null, (error) => (error ? fail(error) : done()));
    });
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

/** Runs one slice of `PAIR` lines and records its CPU per line (user + system, all threads). */
async function timed(slice, cpuUs) {
  const cpu = process.cpuUsage();
  await slice();
  const used = process.cpuUsage(cpu);
  cpuUs.push((used.user + used.system) / PAIR);
}

// Disk speed drifts by several times within seconds on a shared machine: each pair runs raw, ours, the
// thread-pool floor (and --against's build) back to back on a few lines, in a random order: a fixed
// order would give each one the same predecessor every time, and what the disk does right after a
// step (a journal commit, write-back) shows up in the next one.
const seq = { raw: [], pool: [], rawCpu: [], poolCpu: [] };
const logRows = ["ours", "oursAlone", "oursBlocking", "against", "againstBlocking"];
for (const row of logRows) Object.assign(seq, { [row]: [], [`${row}Cpu`]: [] });
const rounds = { concurrent: [], concRatio: [], concurrentAlone: [], concAloneRatio: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  const options = { signer, checkpointIntervalMs: 0, ...sealed };
  const open = (build, name, blockingWrites) =>
    build({ ...options, blockingWrites, dir: join(base, `${name}-${round}`) });
  const logs = { ours: await open(openFileAuditLog, "round", false) };
  logs.oursAlone = await open(openFileAuditLog, "alone", "when-alone");
  logs.oursBlocking = await open(openFileAuditLog, "blocking", true);
  if (againstLog !== undefined) {
    logs.against = await open(againstLog, "against", false);
    logs.againstBlocking = await open(againstLog, "against-blocking", true);
  }
  const log = logs.ours;
  const rawFile = join(base, `raw-${round}.log`);
  const poolFile = join(base, `pool-${round}.log`);
  const steps = [
    () => timed(async () => seq.raw.push((PAIR / raw(PAIR, rawFile)) * 1000), seq.rawCpu),
    () => timed(async () => seq.pool.push((PAIR / (await pool(PAIR, poolFile))) * 1000), seq.poolCpu),
  ];
  for (const [row, each] of Object.entries(logs)) {
    const step = async () => seq[row].push((PAIR / (await appenders(each, PAIR, 1))) * 1000);
    steps.push(() => timed(step, seq[`${row}Cpu`]));
  }
  for (let pair = 0; pair < Math.max(1, Math.floor(SEQUENTIAL / PAIR)); pair += 1) {
    for (const step of shuffled(steps)) await step();
  }
  for (const [row, each] of shuffled([
    ["concurrent", log],
    ["concurrentAlone", logs.oursAlone],
  ])) {
    const before = raw(PAIR * 10, rawFile);
    const concurrent = await appenders(each, CONCURRENT, 64);
    const after = raw(PAIR * 10, rawFile);
    rounds[row].push(concurrent);
    rounds[row === "concurrent" ? "concRatio" : "concAloneRatio"].push(concurrent / ((before + after) / 2));
  }
  for (const each of Object.values(logs)) await each.close();
}
/** The median over all pairs of raw's time over `list`'s time in the same pair. */
const pairRatio = (list, peer = seq.raw) => median(list.map((ms, i) => peer[i] / ms));
/** What the log adds to the floor, which no non-blocking append can go below: the floor's time over ours. */
const overFloor = (list) => `${pairRatio(list, seq.pool).toFixed(2)}x of the floor`;
const rate = (list) => perSecond(PAIR, median(list));

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
const pairs = seq.raw.length;
console.log(
  `| work | records/s (median of ${pairs} slices of ${PAIR}; concurrent and verify: of ${ROUNDS} rounds) | vs raw write+fdatasync (median of per-pair ratios) | target |`,
);
console.log("|---|---:|---:|---|");
const cpu = (list) => `${median(list).toFixed(1)} us CPU each`;
console.log(`| raw write+fdatasync, one line (peer; ${cpu(seq.rawCpu)}) | ${fmt(rate(seq.raw))} | 1.00x | |`);
console.log(
  `| thread-pool floor: one O_DSYNC fs.write per line, nothing else (${cpu(seq.poolCpu)}) | ${fmt(rate(seq.pool))} | ${pairRatio(seq.pool).toFixed(2)}x | |`,
);
console.log(
  `| sequential durable appends, thread pool only (${cpu(seq.oursCpu)}, all threads; ${overFloor(seq.ours)}) | ${fmt(rate(seq.ours))} | ${pairRatio(seq.ours).toFixed(2)}x | |`,
);
console.log(
  `| sequential durable appends, blockingWrites "when-alone" (\`custody serve\`; ${cpu(seq.oursAloneCpu)}, all threads) | ${fmt(rate(seq.oursAlone))} | ${pairRatio(seq.oursAlone).toFixed(2)}x | >= 0.9x (issue 16) |`,
);
console.log(
  `| sequential durable appends, blockingWrites (CLI commands; ${cpu(seq.oursBlockingCpu)}) | ${fmt(rate(seq.oursBlocking))} | ${pairRatio(seq.oursBlocking).toFixed(2)}x | >= 0.9x (issue 16) |`,
);
if (againstLog !== undefined) {
  console.log(
    `| sequential durable appends, thread pool, the build in ${values.against} (${cpu(seq.againstCpu)}; ${overFloor(seq.against)}) | ${fmt(rate(seq.against))} | ${pairRatio(seq.against).toFixed(2)}x | |`,
  );
  console.log(
    `| sequential durable appends, blockingWrites, the build in ${values.against} (${cpu(seq.againstBlockingCpu)}) | ${fmt(rate(seq.againstBlocking))} | ${pairRatio(seq.againstBlocking).toFixed(2)}x | |`,
  );
}
console.log(
  `| 64 concurrent appenders, group commit, thread pool only | ${fmt(median(rounds.concurrent))} | ${median(rounds.concRatio).toFixed(1)}x | >= 50,000/s |`,
);
console.log(
  `| 64 concurrent appenders, group commit, "when-alone" (\`custody serve\`) | ${fmt(median(rounds.concurrentAlone))} | ${median(rounds.concAloneRatio).toFixed(1)}x | >= 50,000/s |`,
);
for (const run of [small, large]) {
  console.log(
    `| verify ${fmt(run.count)} records (${run.checkpoints} checkpoints), heap peak +${mib(run.heapGrowth)}, ${fmt(run.cpuRate)} per CPU-second | ${fmt(run.rate)} | | >= 300,000/s, flat memory |`,
  );
}
console.log(
  `\nload average (1 min): ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`,
);
