import { once } from "node:events";
import { CustodyError } from "@custody/core";
import { createDigestStream, type DigestStream, type RingSlot, ThreadedDigestStream } from "@custody/hash";
import type { Sha256Result } from "../digest.js";

/** Incremental sha256 over @custody/hash's digest stream, for loops that hash and write chunk by chunk. */
export class Sha256Hasher {
  readonly #stream: DigestStream = createDigestStream({ algorithms: ["sha256"] });

  constructor() {
    // Only the digest is wanted, not the pass-through bytes.
    this.#stream.resume();
  }

  update(chunk: Uint8Array): void {
    this.#stream.write(chunk);
  }

  async digest(): Promise<Sha256Result> {
    const finished = once(this.#stream, "finish");
    this.#stream.end();
    await finished;
    const { size, digests } = this.#stream.result();
    if (digests.sha256 === undefined)
      throw new CustodyError("ERR_INTERNAL", "the digest stream gave no sha256");
    return { size, sha256: digests.sha256 };
  }
}

/** From this size on, sha256 runs on a worker thread: starting one costs a few ms, hashing 1 GiB ~0.5 s. */
export const THREADED_HASH_FROM_BYTES = 32 * 1024 * 1024;

/**
 * sha256 on a worker thread: the bytes are copied into a small shared ring (the caller may reuse nothing
 * it passed until `update`'s promise, if any, settles) and the worker hashes them while this thread
 * writes. `update` returns a promise when the ring is full.
 */
export class ThreadedSha256Hasher {
  readonly #stream: ThreadedDigestStream;

  /** `slotBytes`: see ThreadedDigestStream (a reader of fixed-size chunks needs no larger slots). */
  constructor(options: { slotBytes?: number } = {}) {
    this.#stream = new ThreadedDigestStream({ algorithms: ["sha256"], ...options });
    this.#stream.resume();
  }

  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#stream.write(chunk)) return undefined;
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.#stream.off("error", onError);
        resolve();
      };
      const onError = (error: Error): void => {
        this.#stream.off("drain", onDrain);
        reject(error);
      };
      this.#stream.once("drain", onDrain).once("error", onError);
    });
  }

  /** A slot of the worker's ring to read into directly (see ThreadedDigestStream.claimSlot); not mixed with update. */
  claim(): Promise<RingSlot> {
    return this.#stream.claimSlot();
  }

  async digest(): Promise<Sha256Result> {
    const finished = once(this.#stream, "finish");
    this.#stream.end();
    await finished;
    const { size, digests } = this.#stream.result();
    if (digests.sha256 === undefined)
      throw new CustodyError("ERR_INTERNAL", "the digest stream gave no sha256");
    return { size, sha256: digests.sha256 };
  }

  /** Stops the worker (after a failure; `digest` stops it too). */
  dispose(): void {
    this.#stream.destroy();
  }
}

/** The hasher for a body of about `sizeHint` bytes. */
export function sha256HasherFor(sizeHint: number | undefined): Sha256Hasher | ThreadedSha256Hasher {
  return sizeHint !== undefined && sizeHint >= THREADED_HASH_FROM_BYTES
    ? new ThreadedSha256Hasher()
    : new Sha256Hasher();
}
