#!/usr/bin/env node
// What a sequential durable append adds to the write and sync of its line, measured where the sync
// costs almost nothing (tmpfs), so that the disk's noise does not hide it. Run after
// `pnpm exec tsc -b packages/audit`:
//   node scripts/bench/audit-append-overhead.mjs [--dir /dev/shm] [--appends 20000] [--rounds 5]
//     [--blocking] [--dist OTHER/packages/audit/dist]
// --blocking opens the log with blockingWrites (a synchronous write in the calling thread); --dist
// measures another build (e.g. main's), for A/B runs alternated by hand.
// Peer, in the same run and alternating: a synchronous write + fdatasync of one record-sized line.
// On a disk whose one-line sync takes S us, the sequential ratio to raw is about (S + raw) / (S + ours).
import { randomBytes } from "node:crypto";
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { auditEvent, sampleLine } from "./lib/audit.mjs";

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: "/dev/shm" },
    appends: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    blocking: { type: "boolean", default: false },
    dist: { type: "string", default: fileURLToPath(new URL("../../packages/audit/dist", import.meta.url)) },
  },
});
const { openFileAuditLog } = await import(pathToFileURL(join(resolve(values.dist), "index.js")).href);
const N = Number(values.appends);
const base = await mkdtemp(join(values.dir, "custody-append-bench-"));
let n = 0;
const event = () => auditEvent(n++);

function raw() {
  const fd = openSync(join(base, "raw.log"), "a");
  const start = performance.now();
  for (let i = 0; i < N; i += 1) {
    writeSync(fd, sampleLine);
    fdatasyncSync(fd);
  }
  const us = ((performance.now() - start) * 1000) / N;
  closeSync(fd);
  return us;
}

const log = await openFileAuditLog({
  dir: join(base, "log"),
  sealKey: randomBytes(32),
  checkpointIntervalMs: 0,
  checkpointEvery: 1e12,
  blockingWrites: values.blocking,
});
const oursCpuUs = [];
async function ours() {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < N; i += 1) await log.append(event());
  const used = process.cpuUsage(cpu);
  oursCpuUs.push((used.user + used.system) / N);
  return ((performance.now() - start) * 1000) / N;
}

const rawUs = [];
const oursUs = [];
for (let round = 0; round < Number(values.rounds); round += 1) {
  rawUs.push(raw());
  oursUs.push(await ours());
}
await rm(base, { recursive: true, force: true });
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const r = median(rawUs);
const o = median(oursUs);
console.log(
  `| one sequential append on ${values.dir} (sealed) | us per append (median of ${values.rounds}) |`,
);
console.log("|---|---:|");
console.log(`| raw write + fdatasync of one line (peer) | ${r.toFixed(1)} |`);
console.log(
  `| \`log.append\`${values.blocking ? " with blockingWrites" : ""} (validate, hash, seal, O_DSYNC write, resolve) | ${o.toFixed(1)} |`,
);
console.log(`| its CPU (user + sys, all threads) | ${median(oursCpuUs).toFixed(1)} |`);
for (const sync of [100, 200, 500]) {
  console.log(
    `| expected ratio to raw where a one-line sync takes ${sync} us | ${((sync + r) / (sync + o)).toFixed(2)}x |`,
  );
}
process.exit(0);
