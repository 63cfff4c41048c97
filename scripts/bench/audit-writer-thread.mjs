#!/usr/bin/env node
// Can a writer thread of our own make a durable append that keeps the event loop free cheaper than
// libuv's thread pool? Each row writes and syncs one record-sized line, awaited, then the next:
//   node scripts/bench/audit-writer-thread.mjs [--dir DIR (default: the temp dir)] [--lines 3000] [--slice 10]
// Rows (slices of --slice lines in a random order in every turn; medians over the slices, the ratio the
// median of per-turn ratios to raw in the same turn):
//   raw: writeSync + fdatasyncSync in the main thread (blocks the event loop: the physical limit);
//   thread pool: one O_DSYNC fs.write with a callback (what the file sink does);
//   writer thread: a worker that owns its file descriptor and writes (O_DSYNC, or write + fdatasync)
//   synchronously; the main thread hands it the line in a SharedArrayBuffer, wakes it with
//   Atomics.notify and awaits Atomics.waitAsync (or a MessagePort message) for the answer.
import { closeSync, constants, fdatasyncSync, openSync, write, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MessageChannel, Worker } from "node:worker_threads";
import { sampleLine } from "./lib/audit.mjs";
import { shuffled } from "./lib/shuffle.mjs";

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: tmpdir() },
    lines: { type: "string", default: "3000" },
    slice: { type: "string", default: "10" },
  },
});
const SLICE = Math.max(1, Number(values.slice));
const TURNS = Math.max(1, Math.floor(Number(values.lines) / SLICE));
const loadAtStart = loadavg()[0];
const base = await mkdtemp(join(values.dir, "custody-writer-thread-bench-"));
const DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

const rawFd = openSync(join(base, "raw.log"), "a");
const poolFd = openSync(join(base, "pool.log"), DSYNC);

/** A writer thread and a function that appends one line through it, resolving once it is durable. */
async function writerThread(name, { dsync, answer }) {
  const shared = new SharedArrayBuffer(16 + 64 * 1024);
  const control = new Int32Array(shared, 0, 4);
  const data = new Uint8Array(shared, 16);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL("./lib/dsync-writer.mjs", import.meta.url), {
    workerData: { shared, file: join(base, `${name}.log`), dsync, answer, port: port2 },
    transferList: [port2],
  });
  await new Promise((ready) => worker.once("online", ready));
  let answered;
  port1.on("message", () => answered());
  port1.unref();
  const append = async (line) => {
    data.set(line, 0);
    control[1] = line.length;
    const written = answer === "port" ? new Promise((done) => (answered = done)) : undefined;
    Atomics.store(control, 0, 1);
    Atomics.notify(control, 0);
    if (written !== undefined) await written;
    else {
      const wait = Atomics.waitAsync(control, 0, 1);
      if (wait.async) await wait.value;
    }
    if (control[3] !== 0) throw new Error(`${name}: the writer thread's write failed`);
    Atomics.store(control, 0, 0);
  };
  const stop = async () => {
    Atomics.store(control, 0, 3);
    Atomics.notify(control, 0);
    await new Promise((done) => worker.once("exit", done));
    port1.close();
  };
  return { append, stop };
}

const threads = {
  dsyncWait: await writerThread("thread-dsync-waitasync", { dsync: true, answer: "waitAsync" }),
  fdatasyncWait: await writerThread("thread-fdatasync-waitasync", { dsync: false, answer: "waitAsync" }),
  dsyncPort: await writerThread("thread-dsync-port", { dsync: true, answer: "port" }),
};
const rows = [
  {
    name: "raw write + fdatasync in the main thread (peer; blocks the event loop)",
    line: async () => {
      writeSync(rawFd, sampleLine);
      fdatasyncSync(rawFd);
    },
  },
  {
    name: "thread pool: one O_DSYNC fs.write with a callback (the file sink)",
    line: () =>
      new Promise((done, fail) => {
        write(poolFd, sampleLine, 0, sampleLine.length, null, (error) => (error ? fail(error) : done()));
      }),
  },
  {
    name: "writer thread: O_DSYNC write, answer by Atomics.waitAsync",
    line: () => threads.dsyncWait.append(sampleLine),
  },
  {
    name: "writer thread: write + fdatasync, answer by Atomics.waitAsync",
    line: () => threads.fdatasyncWait.append(sampleLine),
  },
  {
    name: "writer thread: O_DSYNC write, answer by MessagePort",
    line: () => threads.dsyncPort.append(sampleLine),
  },
];
for (const row of rows) Object.assign(row, { us: [], cpu: [], ratio: [] });
for (let turn = 0; turn < TURNS; turn += 1) {
  for (const row of shuffled(rows)) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < SLICE; i += 1) await row.line();
    row.us.push(((performance.now() - start) * 1000) / SLICE);
    const used = process.cpuUsage(cpu);
    row.cpu.push((used.user + used.system) / SLICE);
  }
  for (const row of rows) row.ratio.push((rows[0].us.at(-1) ?? 0) / (row.us.at(-1) ?? 1));
}
for (const thread of Object.values(threads)) await thread.stop();
closeSync(rawFd);
closeSync(poolFd);
await rm(base, { recursive: true, force: true });

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
console.log(
  `| one durable line, sequential, in ${values.dir} | us per line (median of ${TURNS} slices of ${SLICE}) | us CPU per line, all threads | vs raw (median of per-turn ratios) |`,
);
console.log("|---|---:|---:|---:|");
for (const row of rows) {
  console.log(
    `| ${row.name} | ${median(row.us).toFixed(1)} | ${median(row.cpu).toFixed(1)} | ${median(row.ratio).toFixed(2)}x |`,
  );
}
console.log(
  `\nload average (1 min): ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`,
);
