import { Transform, type TransformCallback } from "node:stream";
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
  } else {
    const digests = {};
    algorithms.forEach((a, i) => { digests[a] = hashes[i].digest("hex"); });
    parentPort.postMessage({ type: "digests", digests });
  }
});
`;

/** A slot of the ring claimed by a reader that fills it itself (`ThreadedDigestStream.claimSlot`). */
export interface RingSlot {
  /** The slot's memory: read into it, then commit. */
  readonly bytes: Uint8Array;
  /** Hands the first `length` bytes to the workers, after everything committed or written before. */
  commit(length: number): void;
  /** Gives the slot back unused (a no-op after `commit`). */
  release(): void;
}

type WorkerMessage = { type: "done"; slot: number } | { type: "digests"; digests: DigestSet };

/**
 * A pass-through like `DigestStream` whose digests are computed on worker threads (one per algorithm),
 * so the thread that moves the bytes (and may hash them for another purpose, as a store does) is not
 * slowed by them. Chunks are copied into a small shared ring (4 × 4 MiB), a slot is handed to every worker when full;
 * when the slowest falls behind, the stream waits.
 */
export class ThreadedDigestStream extends Transform {
  readonly algorithms: readonly HashAlgorithm[];
  readonly #slotBytes: number;
  readonly #ring: SharedArrayBuffer;
  /** One worker per algorithm: md5 and sha1 run side by side, each reading the same slot. */
  readonly #workers: Worker[];
  readonly #readers = new Array<number>(SLOTS).fill(0);
  readonly #free: number[] = Array.from({ length: SLOTS }, (_, slot) => slot);
  readonly #digestSet: DigestSet = {};
  #pendingDigests = 0;
  #waiting: (() => void) | undefined;
  #finished: ((digests: DigestSet) => void) | undefined;
  #failure: Error | undefined;
  #size = 0;
  /** The slot being filled and how many bytes it holds; posted when full or at the end. */
  #filling: number | undefined;
  #filled = 0;
  #result: DigestResult | undefined;

  /**
   * `slotBytes` (default 4 MiB) is each of the ring's four slots: a caller that writes whole chunks of a
   * known size (a file read in 1 MiB reads) may ask for that size and hold a quarter of the memory.
   */
  constructor(options: { algorithms?: readonly HashAlgorithm[]; slotBytes?: number } = {}) {
    super();
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

  #terminate(): void {
    for (const worker of this.#workers) void worker.terminate();
  }

  /** The digests of everything written; available from the 'finish' event on. */
  result(): DigestResult {
    if (this.#result === undefined) {
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        "ThreadedDigestStream.result() is only available after 'finish'",
      );
    }
    return this.#result;
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!(chunk instanceof Uint8Array)) {
      callback(new CustodyError("ERR_INVALID_ARGUMENT", "a digest stream takes bytes, not text or objects"));
      return;
    }
    this.#feed(chunk).then(() => callback(null, chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#digests().then((digests) => {
      this.#result = { size: this.#size, digests };
      this.#terminate();
      callback();
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#terminate();
    callback(error);
  }

  /**
   * Copies the chunk into the slot being filled and hands a slot to the workers only once it is full
   * (or at the end): a TLS socket delivers ~16 KiB records, and one message per record and worker cost
   * more than the hashing (196,611 messages for a 1 GiB upload, against 768 now).
   */
  async #feed(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#filling === undefined) this.#filling = await this.#slot();
      const room = this.#slotBytes - this.#filled;
      const take = Math.min(room, chunk.byteLength - offset);
      new Uint8Array(this.#ring, this.#filling * this.#slotBytes + this.#filled, take).set(
        chunk.subarray(offset, offset + take),
      );
      this.#filled += take;
      this.#size += take;
      offset += take;
      if (this.#filled === this.#slotBytes) this.#post();
    }
  }

  /**
   * A free slot for a reader that fills the ring itself (a file read straight into it), instead of
   * writing chunks that are copied in: no copy. One claim at a time, never mixed with `write`; the
   * digests come at `end()` as for written chunks. Waits while every slot is with the workers.
   */
  async claimSlot(): Promise<RingSlot> {
    const slot = await this.#slot();
    const slotBytes = this.#slotBytes;
    let open = true;
    return {
      bytes: new Uint8Array(this.#ring, slot * slotBytes, slotBytes),
      commit: (length) => {
        if (!open || !Number.isSafeInteger(length) || length <= 0 || length > slotBytes) {
          throw new CustodyError(
            "ERR_INVALID_ARGUMENT",
            "a claimed slot is committed once, with 1 to its size bytes",
          );
        }
        open = false;
        this.#size += length;
        this.#readers[slot] = this.#workers.length;
        for (const worker of this.#workers) worker.postMessage({ type: "chunk", slot, length });
      },
      release: () => {
        if (!open) return;
        open = false;
        this.#release(slot);
      },
    };
  }

  #release(slot: number): void {
    this.#free.push(slot);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
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

  #slot(): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const slot = this.#free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => {
      this.#waiting = () => resolve(this.#slot());
    }).then((value) => value as number);
  }

  #digests(): Promise<DigestSet> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#post();
    return new Promise((resolve) => {
      this.#finished = resolve;
      this.#pendingDigests = this.#workers.length;
      for (const worker of this.#workers) worker.postMessage({ type: "end" });
    });
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case "done": {
        this.#readers[message.slot] = (this.#readers[message.slot] ?? 1) - 1;
        if (this.#readers[message.slot] !== 0) return;
        this.#release(message.slot);
        return;
      }
      case "digests":
        Object.assign(this.#digestSet, message.digests);
        this.#pendingDigests -= 1;
        if (this.#pendingDigests === 0) this.#finished?.(this.#orderedDigests());
        return;
    }
  }

  #orderedDigests(): DigestSet {
    const ordered: DigestSet = {};
    for (const algorithm of this.algorithms) ordered[algorithm] = this.#digestSet[algorithm];
    return ordered;
  }

  #fail(cause: unknown): void {
    if (this.#result !== undefined || this.destroyed) return;
    this.#failure = new CustodyError("ERR_INTERNAL", "a hashing worker thread died", { cause });
    this.destroy(this.#failure);
  }
}
