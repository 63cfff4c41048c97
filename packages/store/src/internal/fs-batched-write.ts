import type { FileHandle } from "node:fs/promises";
import { CustodyError } from "@custody/core";

/** Chunks are written in batches of this size (one write(2) each). */
const BATCH_BYTES = 1024 * 1024;

/** Batch buffers of writers that closed, for the next ones (a few, kept for the process's life). */
const spare: Buffer[] = [];
const SPARE_MAX = 8;

/**
 * Writes a body's chunks to a file in writes of 1 MiB, one write at a time, while the next batch fills.
 *
 * Each chunk is copied into one of two reused buffers as it comes, so it can be dropped at once: a TLS
 * body arrives in ~16 KiB records, each in a buffer of its own outside the JavaScript heap, and records
 * held until their batch was written lived long enough to be promoted, so that only full collections of
 * the heap freed them (tens per GiB uploaded). A chunk of a batch's size or more, coming when no batch is
 * filling, is written as it is. The buffers come from a small pool shared by every writer, taken when
 * first needed and given back by `close`.
 */
export class BatchedFileWriter {
  readonly #handle: FileHandle;
  readonly #buffers: Buffer[] = [];
  #filling = 0;
  #filled = 0;
  #writing: Promise<void> = Promise.resolve();

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** The write under way (or the last one): a writeback or a sync chains after it. */
  get writing(): Promise<void> {
    return this.#writing;
  }

  /** Takes a chunk; the promise waits only when a full batch must wait for the write before it. */
  async add(chunk: Uint8Array): Promise<void> {
    if (this.#filled === 0 && chunk.byteLength >= BATCH_BYTES) {
      await this.#write(chunk);
      return;
    }
    let offset = 0;
    while (offset < chunk.byteLength) {
      const buffer = this.#buffer(this.#filling);
      const take = Math.min(BATCH_BYTES - this.#filled, chunk.byteLength - offset);
      buffer.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === BATCH_BYTES) {
        // the other buffer is free once the write before this one is done: `#write` waits for it
        await this.#write(buffer);
        this.#filling = 1 - this.#filling;
        this.#filled = 0;
      }
    }
  }

  /** Writes what is left and waits for every write. */
  async flush(): Promise<void> {
    await this.#writing;
    if (this.#filled === 0) return;
    const rest = (this.#buffers[this.#filling] as Buffer).subarray(0, this.#filled);
    this.#filled = 0;
    await this.#write(rest);
    await this.#writing;
  }

  /** Once every write has settled: the buffers go back to the pool. */
  async close(): Promise<void> {
    await this.#writing.catch(() => {});
    for (const buffer of this.#buffers.splice(0)) if (spare.length < SPARE_MAX) spare.push(buffer);
    this.#filled = 0;
  }

  #buffer(index: number): Buffer {
    while (this.#buffers.length <= index)
      this.#buffers.push(spare.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES));
    return this.#buffers[index] as Buffer;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    await this.#writing;
    this.#writing = writeAll(this.#handle, bytes);
    // Awaited before the next write; until then a failure must not count as unhandled.
    this.#writing.catch(() => {});
  }
}

/** write(2) may take less than asked (a nearly full disk): the rest is written, or the error surfaces. */
export async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    if (bytesWritten === 0) throw new CustodyError("ERR_IO", "the disk took no bytes of a write");
    offset += bytesWritten;
  }
}
