import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { throwIfAborted } from "@custody/core";
import { deflateChunk, isWorthCompressing, looksCompressed } from "./compression.js";
import { METHOD_DEFLATE, METHOD_STORE } from "./format.js";
import type { ZipWriter } from "./writer.js";

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
  const source = chunks[Symbol.asyncIterator]();
  const digest = createHash("sha256");
  let crc = 0;
  let size = 0;
  const take = async (): Promise<Buffer | undefined> => {
    throwIfAborted(options.abortSignal);
    const step = await source.next();
    if (step.done) return undefined;
    digest.update(step.value);
    crc = crc32(step.value, crc);
    size += step.value.length;
    options.onBytes?.(step.value.length);
    return step.value;
  };
  const first = await take();
  let pending = first === undefined ? undefined : await take();
  const sample = await firstOutput(first, pending === undefined, options);
  const method = sample.method;
  await options.turn;
  throwIfAborted(options.abortSignal);
  const single = pending === undefined;
  const firstBytes = sample.output ?? Buffer.alloc(0);
  const knownSizes = single ? { crc32: crc, size, compressedSize: firstBytes.length } : undefined;
  await zip.beginEntry({ name: options.name, method, modifiedAt: options.modifiedAt, sizes: knownSizes });
  await zip.writeData(firstBytes);
  let compressedSize = firstBytes.length;
  const queue: Promise<Buffer>[] = [];
  const drain = async (keep: number) => {
    while (queue.length > keep) {
      const output = await (queue.shift() as Promise<Buffer>);
      await zip.writeData(output);
      compressedSize += output.length;
    }
  };
  let previous = first;
  try {
    while (pending !== undefined) {
      const next = await take();
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
  await zip.endEntry({ crc32: crc, size, compressedSize });
  return {
    size,
    compressedSize,
    sha256: digest.digest("hex"),
    method: method === METHOD_STORE ? "store" : "deflate",
  };
}

async function firstOutput(
  first: Buffer | undefined,
  last: boolean,
  options: EntryOptions,
): Promise<{ method: number; output: Buffer | undefined }> {
  if (first === undefined || looksCompressed(options.path, first))
    return { method: METHOD_STORE, output: first };
  const output = await deflateChunk(first, options.level, undefined, last);
  if (isWorthCompressing(first, output)) return { method: METHOD_DEFLATE, output };
  return { method: METHOD_STORE, output: first };
}
