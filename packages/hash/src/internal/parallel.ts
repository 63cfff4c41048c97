import type { FileHandle } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { CustodyError, throwIfAborted } from "@custody/core/errors";
import type { DigestResult, DigestSet, HashAlgorithm } from "../algorithms.js";
import type { HashOptions } from "../digest.js";
import { MultiHash } from "./multi-hash.js";
import { partitionAlgorithms } from "./partition.js";

/** Hashing workers allocate almost nothing: small heaps keep the whole process under 100 MiB. */
export const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 };

// Slots of the shared ring: enough to keep every thread busy while the next chunk is read.
const SLOTS = 8;

// Plain JS evaluated in the worker, so it runs the same from src/ (tests) and dist/ (users).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { ring, chunkBytes, algorithms } = workerData;
const hashes = algorithms.map((a) => createHash(a));
parentPort.on("message", (m) => {
  if (m.type === "chunk") {
    const view = new Uint8Array(ring, m.slot * chunkBytes, m.length);
    for (const h of hashes) h.update(view);
    parentPort.postMessage({ type: "done", slot: m.slot });
  } else {
    const digests = {};
    algorithms.forEach((a, i) => { digests[a] = hashes[i].digest("hex"); });
    parentPort.postMessage({ type: "digests", digests });
  }
});
`;

type WorkerMessage = { type: "done"; slot: number } | { type: "digests"; digests: DigestSet };

/** One helper thread hashing its share of the algorithms over the shared ring. */
class HashWorker {
  readonly #worker: Worker;
  readonly #done: (slot: number) => void;
  #finish: ((digests: DigestSet) => void) | undefined;
  #fail: (error: Error) => void;

  constructor(ring: SharedArrayBuffer, chunkBytes: number, algorithms: HashAlgorithm[], pool: SlotPool) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ring, chunkBytes, algorithms },
      resourceLimits: WORKER_LIMITS,
    });
    this.#done = (slot) => pool.release(slot);
    this.#fail = (error) => pool.fail(error);
    this.#worker.on("message", (m: WorkerMessage) => this.#onMessage(m));
    this.#worker.on("error", (cause) => this.#fail(workerFailed(cause)));
    this.#worker.on("exit", (code) => this.#fail(workerFailed(new Error(`exited with code ${code}`))));
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case "done":
        this.#done(message.slot);
        return;
      case "digests":
        this.#finish?.(message.digests);
        return;
    }
  }

  chunk(slot: number, length: number): void {
    this.#worker.postMessage({ type: "chunk", slot, length });
  }

  digests(): Promise<DigestSet> {
    return new Promise((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
      this.#worker.postMessage({ type: "end" });
    });
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

/** Counts, per slot, the workers still reading it; a slot is rewritten only when that count is 0. */
class SlotPool {
  readonly #busy = new Array<number>(SLOTS).fill(0);
  #waiter: { slot: number; resolve: () => void; reject: (e: Error) => void } | undefined;
  #error: Error | undefined;

  claim(slot: number, readers: number): void {
    this.#busy[slot] = readers;
  }

  release(slot: number): void {
    this.#busy[slot] = (this.#busy[slot] ?? 1) - 1;
    if (this.#waiter?.slot === slot && this.#busy[slot] === 0) this.#waiter.resolve();
  }

  fail(error: Error): void {
    this.#error = error;
    this.#waiter?.reject(error);
  }

  free(slot: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#busy[slot] === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiter = { slot, resolve, reject };
    });
  }
}

/** Main thread reads (and hashes the lightest share); workers hash the rest from the same bytes. */
export async function hashHandleInParallel(
  handle: FileHandle,
  algorithms: readonly HashAlgorithm[],
  chunkBytes: number,
  options: HashOptions,
): Promise<DigestResult> {
  const signal = options.abortSignal;
  const [mine = [], ...theirs] = partitionAlgorithms(algorithms);
  const ring = new SharedArrayBuffer(SLOTS * chunkBytes);
  const pool = new SlotPool();
  const workers = theirs.map((group) => new HashWorker(ring, chunkBytes, group, pool));
  try {
    const hasher = new MultiHash(mine);
    for (let index = 0; ; index++) {
      const slot = index % SLOTS;
      await pool.free(slot);
      throwIfAborted(signal);
      const view = new Uint8Array(ring, slot * chunkBytes, chunkBytes);
      const { bytesRead } = await handle.read(view, 0, chunkBytes, null);
      if (bytesRead === 0) break;
      pool.claim(slot, workers.length);
      for (const worker of workers) worker.chunk(slot, bytesRead);
      hasher.update(view.subarray(0, bytesRead));
      options.onProgress?.(hasher.size);
    }
    const digests = hasher.digests();
    for (const set of await Promise.all(workers.map((w) => w.digests()))) Object.assign(digests, set);
    return { size: hasher.size, digests: ordered(digests, algorithms) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function workerFailed(cause: Error): CustodyError {
  return new CustodyError("ERR_INTERNAL", `a hashing worker failed: ${cause.message}`, { cause });
}

function ordered(digests: DigestSet, algorithms: readonly HashAlgorithm[]): DigestSet {
  const result: DigestSet = {};
  for (const algorithm of algorithms) result[algorithm] = digests[algorithm];
  return result;
}
