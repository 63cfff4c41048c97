import { Worker } from "node:worker_threads";
import { CustodyError, toCustodyError } from "@custody/core/errors";
import type { DigestSet, HashAlgorithm } from "../algorithms.js";
import { WORKER_LIMITS } from "./parallel.js";
import type { OtherType } from "./walk.js";

/** What a worker says about one file. */
export type PooledResult =
  | { kind: "file"; size: number; digests: DigestSet }
  | { kind: "other"; type: OtherType }
  | { kind: "error"; error: CustodyError };

type Reply =
  | { id: number; kind: "file"; size: number; digests: DigestSet }
  | { id: number; kind: "other"; type: OtherType }
  | { id: number; kind: "error"; code?: string; message: string };

// Plain JS run in each worker. Synchronous calls are right here: this thread does nothing else, and
// they cost a few microseconds where each async call costs a thread-pool round trip.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const { algorithms, chunkBytes, flags } = workerData;
const buffer = Buffer.allocUnsafe(chunkBytes);
function typeOf(st) {
  return st.isFIFO() ? "fifo" : st.isSocket() ? "socket" : st.isBlockDevice() ? "block-device"
    : st.isCharacterDevice() ? "character-device" : "unknown";
}
function hash(fd, knownSize) {
  const hashes = algorithms.map((a) => createHash(a));
  let size = 0;
  for (;;) {
    const n = fs.readSync(fd, buffer, 0, chunkBytes, null);
    if (n === 0) break;
    const view = buffer.subarray(0, n);
    for (const h of hashes) h.update(view);
    size += n;
    if (n < chunkBytes && knownSize > 0 && size >= knownSize) break; // short at its size: the end (not so for /proc)
  }
  const digests = {};
  algorithms.forEach((a, i) => { digests[a] = hashes[i].digest("hex"); });
  return { kind: "file", size, digests };
}
parentPort.on("message", ({ id, path }) => {
  let fd = -1;
  let reply;
  try {
    fd = fs.openSync(path, flags);
    const st = fs.fstatSync(fd);
    reply = st.isFile() ? hash(fd, st.size) : { kind: "other", type: typeOf(st) };
  } catch (e) {
    reply = { kind: "error", code: e.code, message: e.message };
  } finally {
    if (fd >= 0) try { fs.closeSync(fd); } catch {}
  }
  parentPort.postMessage({ id, ...reply });
});
`;

interface Pending {
  path: string;
  resolve: (result: PooledResult) => void;
}

const WORKERS = 1;

/** Worker threads that open, read and digest files with synchronous calls, on every core. */
export class TreeHashPool {
  readonly #workers: { worker: Worker; load: number }[];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #broken: CustodyError | undefined;

  constructor(algorithms: readonly HashAlgorithm[], chunkBytes: number, flags: number) {
    // One worker plus this thread (walking, collecting) keep two cores busy; a second worker was no
    // faster on two cores and costs ~12 MiB, which the 100 MiB budget cannot spare.
    const count = WORKERS;
    this.#workers = Array.from({ length: count }, () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { algorithms: [...algorithms], chunkBytes, flags },
        resourceLimits: WORKER_LIMITS,
      });
      const slot = { worker, load: 0 };
      worker.on("message", (reply: Reply) => this.#settle(slot, reply));
      worker.on("error", (cause) => this.#failAll(cause));
      worker.on("exit", (code) => this.#failAll(new Error(`exited with code ${code}`)));
      return slot;
    });
  }

  /** Digests one file on the least busy worker; never rejects. */
  hash(absolute: string, path: string): Promise<PooledResult> {
    if (this.#broken !== undefined) return Promise.resolve({ kind: "error", error: this.#broken });
    const id = this.#nextId++;
    const slot = this.#workers.reduce((min, w) => (w.load < min.load ? w : min));
    slot.load += 1;
    return new Promise((resolve) => {
      this.#pending.set(id, { path, resolve });
      slot.worker.postMessage({ id, path: absolute });
    });
  }

  async close(): Promise<void> {
    this.#broken ??= new CustodyError("ERR_ABORTED", "the hashing pool was closed");
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  #settle(slot: { load: number }, reply: Reply): void {
    slot.load -= 1;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    pending.resolve(toResult(reply, pending.path));
  }

  #failAll(cause: Error): void {
    this.#broken ??= new CustodyError("ERR_INTERNAL", `a hashing worker failed: ${cause.message}`, { cause });
    const error = this.#broken;
    for (const pending of this.#pending.values()) pending.resolve({ kind: "error", error });
    this.#pending.clear();
  }
}

function toResult(reply: Reply, path: string): PooledResult {
  switch (reply.kind) {
    case "file":
      return { kind: "file", size: reply.size, digests: reply.digests };
    case "other":
      return { kind: "other", type: reply.type };
    case "error": {
      const cause = Object.assign(new Error(reply.message), { code: reply.code });
      return { kind: "error", error: toCustodyError(cause, "ERR_IO", `cannot read ${path}`) };
    }
  }
}
