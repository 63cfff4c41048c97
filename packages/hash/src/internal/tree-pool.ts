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
function one(path) {
  let fd = -1;
  try {
    fd = fs.openSync(path, flags);
    const st = fs.fstatSync(fd);
    return st.isFile() ? hash(fd, st.size) : { kind: "other", type: typeOf(st) };
  } catch (e) {
    return { kind: "error", code: e.code, message: e.message };
  } finally {
    if (fd >= 0) try { fs.closeSync(fd); } catch {}
  }
}
parentPort.on("message", (batch) => {
  parentPort.postMessage(batch.map(({ id, path }) => ({ id, ...one(path) })));
});
`;

interface Pending {
  path: string;
  resolve: (result: PooledResult) => void;
}

// Files per message: one message per file cost more on the calling thread than the worker's hashing.
const BATCH = 32;

/**
 * A worker thread that opens, reads and digests files with synchronous calls, fed in batches. One
 * worker plus this thread (walking, ordering) keep two cores busy; each further worker would cost
 * ~12 MiB, which the 100 MiB budget cannot spare.
 */
export class TreeHashPool {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #batch: { id: number; path: string }[] = [];
  #flushTimer: NodeJS.Immediate | undefined;
  #nextId = 0;
  #broken: CustodyError | undefined;

  constructor(algorithms: readonly HashAlgorithm[], chunkBytes: number, flags: number) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { algorithms: [...algorithms], chunkBytes, flags },
      resourceLimits: WORKER_LIMITS,
    });
    this.#worker.on("message", (replies: Reply[]) => {
      for (const reply of replies) this.#settle(reply);
    });
    this.#worker.on("error", (cause) => this.#failAll(cause));
    this.#worker.on("exit", (code) => this.#failAll(new Error(`exited with code ${code}`)));
  }

  /** Digests one file on the worker; never rejects. */
  hash(absolute: string, path: string): Promise<PooledResult> {
    if (this.#broken !== undefined) return Promise.resolve({ kind: "error", error: this.#broken });
    const id = this.#nextId++;
    const result = new Promise<PooledResult>((resolve) => this.#pending.set(id, { path, resolve }));
    this.#batch.push({ id, path: absolute });
    // Whatever the walk queued in this turn of the event loop goes out together.
    if (this.#batch.length >= BATCH) this.#flush();
    else this.#flushTimer ??= setImmediate(() => this.#flush());
    return result;
  }

  async close(): Promise<void> {
    this.#broken ??= new CustodyError("ERR_ABORTED", "the hashing pool was closed");
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    await this.#worker.terminate();
  }

  #flush(): void {
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#batch.length === 0) return;
    this.#worker.postMessage(this.#batch);
    this.#batch = [];
  }

  #settle(reply: Reply): void {
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
