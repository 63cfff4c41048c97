import { Transform, type TransformCallback } from "node:stream";
import { CustodyError } from "@custody/core/errors";
import type { DigestResult, HashAlgorithm } from "./algorithms.js";
import { type RingSlot, ThreadedHasher } from "./threaded-hasher.js";

/**
 * A pass-through like `DigestStream` whose digests are computed on worker threads (`ThreadedHasher`: one
 * per algorithm, fed through a small shared ring), so the thread that moves the bytes (and may hash them
 * for another purpose, as a store does) is not slowed by them. When the slowest worker falls behind, the
 * stream waits.
 */
export class ThreadedDigestStream extends Transform {
  readonly algorithms: readonly HashAlgorithm[];
  readonly #hasher: ThreadedHasher;
  #result: DigestResult | undefined;

  /** `slotBytes`: see ThreadedHasher (a writer of fixed-size chunks needs no larger slots). */
  constructor(options: { algorithms?: readonly HashAlgorithm[]; slotBytes?: number } = {}) {
    super();
    this.#hasher = new ThreadedHasher(options);
    this.algorithms = this.#hasher.algorithms;
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
    const waiting = this.#hasher.update(chunk);
    if (waiting === undefined) callback(null, chunk);
    else waiting.then(() => callback(null, chunk), callback);
  }

  /** A slot to read into directly (see `ThreadedHasher.claimSlot`); never mixed with `write`. */
  claimSlot(): Promise<RingSlot> {
    return this.#hasher.claimSlot();
  }

  override _flush(callback: TransformCallback): void {
    this.#hasher.digest().then((result) => {
      this.#result = result;
      callback();
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#hasher.dispose();
    callback(error);
  }
}
