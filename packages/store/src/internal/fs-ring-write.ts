import type { FileHandle } from "node:fs/promises";
import type { RingSlot } from "@custody/hash";
import { writeAll } from "./fs-batched-write.js";
import type { ThreadedSha256Hasher } from "./hasher.js";

/**
 * Writes a streamed body through the hashing worker's ring: each chunk is copied once, into a shared
 * slot; a full slot is handed to the worker to hash and written to the file from the same memory, and
 * goes back to the ring once both are through. One write at a time, in order.
 *
 * The body's chunks (a TLS socket's ~16 KiB records, each in a buffer of its own outside the JavaScript
 * heap) are copied as they come, so they can be dropped at once and die young, as with
 * `BatchedFileWriter`, which a body hashed on this thread uses instead.
 */
export class RingFileWriter {
  readonly #handle: FileHandle;
  readonly #hasher: ThreadedSha256Hasher;
  #slot: RingSlot | undefined;
  #filled = 0;
  #writing: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;

  constructor(handle: FileHandle, hasher: ThreadedSha256Hasher) {
    this.#handle = handle;
    this.#hasher = hasher;
  }

  /** The write under way (or the last one): a writeback or a sync chains after it. */
  get writing(): Promise<void> {
    return this.#writing;
  }

  /** Takes a chunk; a promise only when it must wait for a free slot (or a write failed). */
  add(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    let offset = 0;
    while (offset < chunk.byteLength) {
      const slot = this.#slot;
      if (slot === undefined) return this.#claimThenAdd(chunk.subarray(offset));
      const take = Math.min(slot.bytes.byteLength - this.#filled, chunk.byteLength - offset);
      slot.bytes.set(
        offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take),
        this.#filled,
      );
      this.#filled += take;
      offset += take;
      if (this.#filled === slot.bytes.byteLength) this.#commit();
    }
    return undefined;
  }

  /** Writes and hands on what is left, and waits for every write. */
  async flush(): Promise<void> {
    this.#commit();
    await this.#writing;
  }

  /** Once every write has settled: a slot never committed goes back to the ring. */
  async close(): Promise<void> {
    this.#slot?.release();
    this.#slot = undefined;
    this.#filled = 0;
    await this.#writing.catch(() => {});
  }

  async #claimThenAdd(rest: Uint8Array): Promise<void> {
    this.#slot = await this.#hasher.claim();
    this.#filled = 0;
    await this.add(rest);
  }

  #commit(): void {
    const slot = this.#slot;
    if (slot === undefined || this.#filled === 0) return;
    const bytes = slot.bytes.subarray(0, this.#filled);
    this.#slot = undefined;
    this.#filled = 0;
    const write = this.#writing.then(() => writeAll(this.#handle, bytes));
    this.#writing = write;
    write.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    slot.commit(bytes.byteLength, write);
  }
}
