import { Worker } from "node:worker_threads";
import { CustodyError } from "@custody/core/errors";
import { type DigestResult, type DigestSet, type HashAlgorithm, resolveAlgorithms } from "./algorithms.js";
import { WORKER_LIMITS } from "./internal/parallel.js";

const SLOTS = 4;
const SLOT_BYTES = 4 * 1024 * 1024;
/** Smallest slot a caller may ask for: below it the messages per slot cost more than the hashing. */
const MIN_SLOT_BYTES = 64 * 1024;

// Plain JS evaluated in the worker, so it runs the same from src/ (tests) and dist/ (users).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { ring, slotBytes, algorithms } = workerData;
const hashes = algorithms.map((a) => createHash(a));
parentPort.on("message", (m) => {
  if (m.type === "chunk") {
    for (const h of hashes) h.update(new Uint8Array(ring, m.slot * slotBytes, m.length));
    parentPort.postMessage({ type: "done", slot: m.slot });
  } else if (m.type === "shared") {
    for (const h of hashes) h.update(new Uint8Array(m.buffer, m.offset, m.length));
    parentPort.postMessage({ type: "shared-done", id: m.id });
  } else {
    const digests = {};
    algorithms.forEach((a, i) => { digests[a] = hashes[i].digest("hex"); });
    parentPort.postMessage({ type: "digests", digests });
  }
});
`;

/** A slot of the ring claimed by a reader that fills it itself (`ThreadedHasher.claimSlot`). */
export interface RingSlot {
  /** The slot's memory: read into it, then commit. */
  readonly bytes: Uint8Array;
  /**
   * Hands the first `length` bytes to the workers, after everything committed or written before. With
   * `heldBy`, the slot returns to the ring only once that has settled too (a write of the same bytes).
   */
  commit(length: number, heldBy?: Promise<unknown>): void;
  /** Gives the slot back unused (a no-op after `commit`). */
  release(): void;
}

type WorkerMessage =
  | { type: "done"; slot: number }
  | { type: "shared-done"; id: number }
  | { type: "digests"; digests: DigestSet };

/**
 * Digests computed on worker threads (one per algorithm), so the thread that moves the bytes is not
 * slowed by them. Bytes are copied into a small shared ring (4 × 4 MiB) with no allocation per chunk; a
 * slot is handed to every worker when full (a TLS socket delivers ~16 KiB records: one message per record
 * and worker cost more than the hashing). `update` copies at once and returns a promise only when the
 * ring is full and the slowest worker must catch up; the next `update` waits for it.
 */
export class ThreadedHasher {
  readonly algorithms: readonly HashAlgorithm[];
  readonly #slotBytes: number;
  readonly #ring: SharedArrayBuffer;
  readonly #workers: Worker[];
  readonly #readers = new Array<number>(SLOTS).fill(0);
  readonly #free: number[] = Array.from({ length: SLOTS }, (_, slot) => slot);
  readonly #digestSet: DigestSet = {};
  #pendingDigests = 0;
  #waiting: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #finished: { resolve: (digests: DigestSet) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;
  #disposed = false;
  #size = 0;
  /** The slot being filled and how many bytes it holds; posted when full or at the end. */
  #filling: number | undefined;
  #filled = 0;
  /** Bytes handed over in shared memory (`updateShared`), by id: the workers yet to be through. */
  readonly #shared = new Map<number, { left: number; resolve: () => void; reject: (error: Error) => void }>();
  #nextShared = 0;

  /**
   * `slotBytes` (default 4 MiB) is each of the ring's four slots: a caller that writes whole chunks of a
   * known size (a file read in 1 MiB reads) may ask for that size and hold a quarter of the memory.
   */
  constructor(options: { algorithms?: readonly HashAlgorithm[]; slotBytes?: number } = {}) {
    const slotBytes = options.slotBytes ?? SLOT_BYTES;
    if (!Number.isSafeInteger(slotBytes) || slotBytes < MIN_SLOT_BYTES || slotBytes > SLOT_BYTES) {
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        `slotBytes must be an integer from ${MIN_SLOT_BYTES} to ${SLOT_BYTES}`,
      );
    }
    this.#slotBytes = slotBytes;
    this.#ring = new SharedArrayBuffer(SLOTS * slotBytes);
    this.algorithms = resolveAlgorithms(options.algorithms);
    this.#workers = this.algorithms.map((algorithm) => this.#startWorker(algorithm));
  }

  /** Bytes hashed so far. */
  get size(): number {
    return this.#size;
  }

  /** Copies `chunk` into the ring; a promise when it had to wait for room (the rest is copied then). */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#filling === undefined) {
        const slot = this.#free.pop();
        if (slot === undefined) {
          const rest = chunk.subarray(offset);
          return this.#room().then(() => this.update(rest));
        }
        this.#filling = slot;
      }
      const take = Math.min(this.#slotBytes - this.#filled, chunk.byteLength - offset);
      new Uint8Array(this.#ring, this.#filling * this.#slotBytes + this.#filled, take).set(
        offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take),
      );
      this.#filled += take;
      this.#size += take;
      offset += take;
      if (this.#filled === this.#slotBytes) this.#post();
    }
    return undefined;
  }

  /**
   * Hands bytes that already lie in shared memory (a view over a SharedArrayBuffer, such as a slot of
   * another hasher's ring) to the workers where they are, with no copy, after everything given before.
   * Resolves once every worker is through with them; until then the caller must not change them. Bytes
   * elsewhere are copied in, as `update` does.
   */
  updateShared(view: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#disposed) return Promise.reject(disposedError());
    if (!(view.buffer instanceof SharedArrayBuffer)) return this.update(view) ?? Promise.resolve();
    if (view.byteLength === 0) return Promise.resolve();
    this.#post();
    this.#size += view.byteLength;
    const id = this.#nextShared++;
    return new Promise((resolve, reject) => {
      this.#shared.set(id, { left: this.#workers.length, resolve, reject });
      const message = {
        type: "shared",
        id,
        buffer: view.buffer,
        offset: view.byteOffset,
        length: view.byteLength,
      };
      for (const worker of this.#workers) worker.postMessage(message);
    });
  }

  /**
   * A free slot for a reader that fills the ring itself (a file read straight into it) instead of
   * giving chunks that are copied in: no copy. One claim at a time, never mixed with `update`; the
   * digests come from `digest()` as for updates. Waits while every slot is with the workers.
   */
  async claimSlot(): Promise<RingSlot> {
    if (this.#failure !== undefined) throw this.#failure;
    let slot = this.#free.pop();
    while (slot === undefined) {
      await this.#room();
      slot = this.#free.pop();
    }
    const claimed = slot;
    const slotBytes = this.#slotBytes;
    let open = true;
    return {
      bytes: new Uint8Array(this.#ring, claimed * slotBytes, slotBytes),
      commit: (length, heldBy) => {
        if (!open || !Number.isSafeInteger(length) || length <= 0 || length > slotBytes) {
          throw new CustodyError(
            "ERR_INVALID_ARGUMENT",
            "a claimed slot is committed once, with 1 to its size bytes",
          );
        }
        open = false;
        this.#size += length;
        this.#readers[claimed] = this.#workers.length + (heldBy === undefined ? 0 : 1);
        for (const worker of this.#workers) worker.postMessage({ type: "chunk", slot: claimed, length });
        const letGo = () => this.#readDone(claimed);
        heldBy?.then(letGo, letGo);
      },
      release: () => {
        if (!open) return;
        open = false;
        this.#release(claimed);
      },
    };
  }

  /** The digests of every byte given, once the workers are through; the workers then stop. */
  async digest(): Promise<DigestResult> {
    if (this.#failure !== undefined) throw this.#failure;
    this.#post();
    try {
      const digests = await new Promise<DigestSet>((resolve, reject) => {
        this.#finished = { resolve, reject };
        this.#pendingDigests = this.#workers.length;
        for (const worker of this.#workers) worker.postMessage({ type: "end" });
      });
      return { size: this.#size, digests };
    } finally {
      this.dispose();
    }
  }

  /**
   * Stops the workers (after a failure; `digest` stops them too); what still waits on `updateShared`
   * is rejected.
   */
  dispose(): void {
    this.#disposed = true;
    for (const worker of this.#workers) void worker.terminate();
    this.#rejectShared(this.#failure ?? disposedError());
  }

  #startWorker(algorithm: HashAlgorithm): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ring: this.#ring, slotBytes: this.#slotBytes, algorithms: [algorithm] },
      resourceLimits: WORKER_LIMITS,
    });
    worker.on("message", (message: WorkerMessage) => this.#onMessage(message));
    worker.on("error", (cause) => this.#fail(cause));
    worker.on("exit", (code) => this.#fail(new Error(`exited with code ${code}`)));
    return worker;
  }

  /** Hands the slot being filled to every worker. */
  #post(): void {
    const slot = this.#filling;
    if (slot === undefined || this.#filled === 0) return;
    this.#readers[slot] = this.#workers.length;
    for (const worker of this.#workers) worker.postMessage({ type: "chunk", slot, length: this.#filled });
    this.#filling = undefined;
    this.#filled = 0;
  }

  #release(slot: number): void {
    this.#free.push(slot);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve();
  }

  #room(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case "done":
        this.#readDone(message.slot);
        return;
      case "shared-done": {
        const waiting = this.#shared.get(message.id);
        if (waiting === undefined) return;
        waiting.left -= 1;
        if (waiting.left > 0) return;
        this.#shared.delete(message.id);
        waiting.resolve();
        return;
      }
      case "digests":
        Object.assign(this.#digestSet, message.digests);
        this.#pendingDigests -= 1;
        if (this.#pendingDigests === 0) this.#finished?.resolve(this.#orderedDigests());
        return;
    }
  }

  /** One of a slot's readers (a worker, or what holds it besides) is through; the last frees it. */
  #readDone(slot: number): void {
    this.#readers[slot] = (this.#readers[slot] ?? 1) - 1;
    if (this.#readers[slot] === 0) this.#release(slot);
  }

  #orderedDigests(): DigestSet {
    const ordered: DigestSet = {};
    for (const algorithm of this.algorithms) ordered[algorithm] = this.#digestSet[algorithm];
    return ordered;
  }

  #rejectShared(error: Error): void {
    for (const waiting of this.#shared.values()) waiting.reject(error);
    this.#shared.clear();
  }

  #fail(cause: unknown): void {
    if (this.#disposed || this.#failure !== undefined) return;
    this.#failure = new CustodyError("ERR_INTERNAL", "a hashing worker thread died", { cause });
    this.#waiting?.reject(this.#failure);
    this.#finished?.reject(this.#failure);
    this.#rejectShared(this.#failure);
    this.dispose();
  }
}

function disposedError(): CustodyError {
  return new CustodyError("ERR_INTERNAL", "the hashing threads were stopped");
}
