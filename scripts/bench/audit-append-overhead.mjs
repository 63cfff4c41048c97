#!/usr/bin/env node
// What a sequential durable append adds to the write and sync of its line, measured where the sync
// costs almost nothing (tmpfs), so that the disk's noise does not hide it. Run after
// `pnpm exec tsc -b packages/audit`:
//   node scripts/bench/audit-append-overhead.mjs [--dir /dev/shm] [--appends 20000] [--rounds 5]
//     [--slice 500] [--blocking | --when-alone] [--dist OTHER/packages/audit/dist] [--against OTHER/packages/audit/dist]
// --blocking opens the log with blockingWrites (a synchronous write in the calling thread), --when-alone
// with blockingWrites "when-alone" (what `custody serve` uses); --dist
// measures another build (e.g. main's) alone, --against appends through it too, in the same slices.
// --phases splits each of our appends in three: from the call to the write's submission (fs.write),
// the write's trip through the thread pool (submission to callback), and from there to the caller.
// Peers, in the same run: a synchronous write + fdatasync of one record-sized line (raw), and one
// O_DSYNC fs.write per line through libuv's thread pool (the floor of an append that does not block
// the event loop). Everything runs in slices of --slice lines, in a random order within each turn, so a
// swing of the machine's load hits all of them alike; rows are medians over the slices.
// On a disk whose one-line sync takes S us, the sequential ratio to raw is about (S + raw) / (S + ours).
import { randomBytes } from "node:crypto";
import fs, { closeSync, constants, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { auditEvent, sampleLine } from "./lib/audit.mjs";
import { shuffled } from "./lib/shuffle.mjs";

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: "/dev/shm" },
    appends: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    slice: { type: "string", default: "500" },
    blocking: { type: "boolean", default: false },
    "when-alone": { type: "boolean", default: false },
    dist: { type: "string", default: fileURLToPath(new URL("../../packages/audit/dist", import.meta.url)) },
    against: { type: "string" },
    phases: { type: "boolean", default: false },
  },
});
const write = fs.write;
const mark = { submitted: 0, completed: 0 };
if (values.phases) {
  // Wraps fs.write before the log is loaded; the wrapper's own cost (two clock reads) is in the totals.
  fs.write = (fd, buffer, offset, length, position, callback) => {
    mark.submitted = performance.now();
    return write(fd, buffer, offset, length, position, (error, written) => {
      mark.completed = performance.now();
      callback(error, written);
    });
  };
  syncBuiltinESMExports();
}
const load = async (dist) =>
  (await import(pathToFileURL(join(resolve(dist), "index.js")).href)).openFileAuditLog;
const SLICE = Math.max(1, Number(values.slice));
const TURNS = Math.max(1, Math.floor((Number(values.appends) * Number(values.rounds)) / SLICE));
const base = await mkdtemp(join(values.dir, "custody-append-bench-"));
let n = 0;
const event = () => auditEvent(n++);

const rawFd = openSync(join(base, "raw.log"), "a");
const poolFd = openSync(
  join(base, "pool.log"),
  constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC,
);
const poolWrite = () =>
  new Promise((done, fail) => {
    write(poolFd, sampleLine, 0, sampleLine.length, null, (error) => (error ? fail(error) : done()));
  });

async function open(dist, name) {
  const openFileAuditLog = await load(dist);
  return openFileAuditLog({
    dir: join(base, name),
    sealKey: randomBytes(32),
    checkpointIntervalMs: 0,
    checkpointEvery: 1e12,
    blockingWrites: values["when-alone"] ? "when-alone" : values.blocking,
  });
}

const rows = [
  {
    name: "raw write + fdatasync of one line (peer)",
    run: async () => {
      for (let i = 0; i < SLICE; i += 1) {
        writeSync(rawFd, sampleLine);
        fdatasyncSync(rawFd);
      }
    },
  },
  {
    name: "thread-pool floor: one O_DSYNC fs.write per line, awaited",
    run: async () => {
      for (let i = 0; i < SLICE; i += 1) await poolWrite();
    },
  },
];
const phases = { before: [], pool: [], after: [] };
const appendRow = (name, log, timePhases = false) => ({
  name,
  run: async () => {
    for (let i = 0; i < SLICE; i += 1) {
      const start = performance.now();
      await log.append(event());
      if (!timePhases) continue;
      const end = performance.now();
      phases.before.push((mark.submitted - start) * 1000);
      phases.pool.push((mark.completed - mark.submitted) * 1000);
      phases.after.push((end - mark.completed) * 1000);
    }
  },
});
const mode = values["when-alone"]
  ? ' with blockingWrites "when-alone"'
  : values.blocking
    ? " with blockingWrites"
    : "";
rows.push(
  appendRow(
    `\`log.append\`${mode} (validate, hash, seal, O_DSYNC write, resolve)`,
    await open(values.dist, "log"),
    values.phases && !values.blocking,
  ),
);
if (values.against !== undefined) {
  rows.push(
    appendRow(`\`log.append\`${mode}, the build in ${values.against}`, await open(values.against, "against")),
  );
}

for (const row of rows) Object.assign(row, { us: [], cpu: [] });
for (let turn = 0; turn < TURNS; turn += 1) {
  for (const row of shuffled(rows)) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    await row.run();
    row.us.push(((performance.now() - start) * 1000) / SLICE);
    const used = process.cpuUsage(cpu);
    row.cpu.push((used.user + used.system) / SLICE);
  }
}
closeSync(rawFd);
closeSync(poolFd);
await rm(base, { recursive: true, force: true });
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const raw = median(rows[0].us);
console.log(
  `| one sequential append on ${values.dir} (sealed) | us per line, wall (median of ${TURNS} slices of ${SLICE}) | us CPU per line, all threads | expected ratio to raw at a 200 us sync |`,
);
console.log("|---|---:|---:|---:|");
for (const row of rows) {
  const us = median(row.us);
  console.log(
    `| ${row.name} | ${us.toFixed(1)} | ${median(row.cpu).toFixed(1)} | ${((200 + raw) / (200 + us)).toFixed(2)}x |`,
  );
}
if (phases.pool.length > 0) {
  console.log(
    `\nOne append in three parts, us (medians of ${phases.pool.length} appends): call to fs.write ${median(phases.before).toFixed(1)}, fs.write to its callback (the thread pool) ${median(phases.pool).toFixed(1)}, callback to the caller ${median(phases.after).toFixed(1)}`,
  );
}
process.exit(0);
