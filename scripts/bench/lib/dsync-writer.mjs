// The writer thread of scripts/bench/audit-writer-thread.mjs: it owns its file and writes each line the
// main thread puts in shared memory synchronously, then wakes the main thread. Control words (Int32):
// [0] state: 0 idle, 1 line ready, 2 written, 3 stop; [1] the line's length; [2] 1 when the writer should
// also fdatasync (its file is then opened without O_DSYNC); [3] errno-ish failure flag.
import { closeSync, constants, fdatasyncSync, openSync, writeSync } from "node:fs";
import { workerData } from "node:worker_threads";

const { shared, file, dsync, answer } = workerData;
const control = new Int32Array(shared, 0, 4);
const data = new Uint8Array(shared, 16);
const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (dsync ? constants.O_DSYNC : 0);
const fd = openSync(file, flags, 0o600);
for (;;) {
  Atomics.wait(control, 0, 0);
  const state = Atomics.load(control, 0);
  if (state === 3) break;
  if (state !== 1) continue;
  try {
    const length = control[1] ?? 0;
    let written = 0;
    while (written < length) written += writeSync(fd, data, written, length - written);
    if (!dsync) fdatasyncSync(fd);
  } catch {
    control[3] = 1;
  }
  Atomics.store(control, 0, 2);
  if (answer === "port") workerData.port.postMessage(0);
  else Atomics.notify(control, 0);
}
closeSync(fd);
