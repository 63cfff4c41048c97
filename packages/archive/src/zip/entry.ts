import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { CustodyError, noteTransientBytes, throwIfAborted } from "@custody/core";
import { deflateChunk, isWorthCompressing, looksCompressed } from "./compression.js";
import { TRANSIENT_EVERY_BYTES } from "./entry-stream.js";
import { METHOD_DEFLATE, METHOD_STORE } from "./format.js";
import type { ZipWriter } from "./writer.js";
import { deflateWhole } from "./zlib-pool.js";

/** Compressed chunks in flight per entry: bounds memory (DEPTH × 1 MiB) and keeps the thread pool busy. */
const DEPTH = 4;

export interface EntryOptions {
  name: string;
  /** The path used to recognise already-compressed formats by extension. */
  path: string;
  level: number;
  modifiedAt: Date;
  /** Resolves when this entry may start writing (entries are written in the order they were added). */
  turn: Promise<void>;
  abortSignal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

export interface WrittenEntry {
  size: number;
  compressedSize: number;
  sha256: string;
  method: "store" | "deflate";
}

/**
 * Reads each chunk once: it is hashed (sha256 and CRC-32) on the main thread as it arrives while
 * earlier chunks compress on the thread pool and finished ones are written. The first chunk is a
 * sample: data that does not compress is stored.
 */
export async function writeEntry(
  zip: ZipWriter,
  chunks: AsyncIterable<Buffer>,
  options: EntryOptions,
): Promise<WrittenEntry> {
  const source = new HashingSource(chunks[Symbol.asyncIterator](), options);
  try {
    return await encode(zip, source, options);
  } finally {
    // Stopped early (failure or abort): let the source release its file or stream.
    await source.close();
  }
}

/** Pulls chunks and hashes each (sha256, CRC-32) exactly once as it arrives. */
class HashingSource {
  readonly digest = createHash("sha256");
  crc = 0;
  size = 0;

  constructor(
    private readonly iterator: AsyncIterator<Buffer>,
    private readonly options: EntryOptions,
  ) {}

  async take(): Promise<Buffer | undefined> {
    throwIfAborted(this.options.abortSignal);
    const step = await abortable(this.iterator.next(), this.options.abortSignal);
    if (step.done) return undefined;
    this.digest.update(step.value);
    this.crc = crc32(step.value, this.crc);
    this.size += step.value.length;
    noteTransientBytes(step.value.length, TRANSIENT_EVERY_BYTES);
    this.options.onBytes?.(step.value.length);
    return step.value;
  }

  async close(): Promise<void> {
    const closing = Promise.resolve(this.iterator.return?.()).catch(() => {});
    // After an abort a hung source's return() would wait for its pending read forever; it runs later.
    if (!this.options.abortSignal?.aborted) await closing;
  }
}

async function encode(zip: ZipWriter, source: HashingSource, options: EntryOptions): Promise<WrittenEntry> {
  const first = await source.take();
  let pending = first === undefined ? undefined : await source.take();
  const sample = await firstOutput(first, pending === undefined, options);
  const method = sample.method;
  await options.turn;
  throwIfAborted(options.abortSignal);
  const firstBytes = sample.output ?? Buffer.alloc(0);
  const known =
    pending === undefined
      ? { crc32: source.crc, size: source.size, compressedSize: firstBytes.length }
      : undefined;
  await zip.beginEntry({ name: options.name, method, modifiedAt: options.modifiedAt, sizes: known });
  await zip.writeData(firstBytes);
  let compressedSize = firstBytes.length;
  const queue: Promise<Buffer>[] = [];
  const drain = async (keep: number) => {
    while (queue.length > keep) {
      const output = await (queue.shift() as Promise<Buffer>);
      await zip.writeData(output);
      noteTransientBytes(output.length, TRANSIENT_EVERY_BYTES);
      compressedSize += output.length;
    }
  };
  let previous = first;
  try {
    while (pending !== undefined) {
      const next = await source.take();
      if (method === METHOD_STORE) queue.push(Promise.resolve(pending));
      else queue.push(deflateChunk(pending, options.level, previous, next === undefined));
      previous = pending;
      pending = next;
      await drain(DEPTH - 1);
    }
    await drain(0);
  } finally {
    // Compressions still running must settle before the caller discards the writer.
    await Promise.allSettled(queue);
  }
  await zip.endEntry({ crc32: source.crc, size: source.size, compressedSize });
  const kind = method === METHOD_STORE ? "store" : "deflate";
  return { size: source.size, compressedSize, sha256: source.digest.digest("hex"), method: kind };
}

async function firstOutput(
  first: Buffer | undefined,
  last: boolean,
  options: EntryOptions,
): Promise<{ method: number; output: Buffer | undefined }> {
  if (first === undefined || looksCompressed(options.path, first))
    return { method: METHOD_STORE, output: first };
  // A whole entry in one chunk goes through a reused zlib context; chunks of a larger one each need their own.
  const output = last
    ? await deflateWhole(first, options.level)
    : await deflateChunk(first, options.level, undefined, false);
  if (isWorthCompressing(first, output)) return { method: METHOD_DEFLATE, output };
  return { method: METHOD_STORE, output: first };
}

/** A source that stops sending (a hung collector) must not keep an aborted writer waiting. */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(new CustodyError("ERR_ABORTED", "the operation was aborted", { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
