import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertSafeRelativePath, toCustodyError } from "@custody/core";
import type { CollectionSink, SinkItemMeta } from "./types.js";

export interface SinkItem {
  path: string;
  size: number;
  sha256: string;
  dataPoint: string;
  source: string;
  collectedAt: Date;
}

/** Writes each item under `dir/<path>` (never overwriting) and keeps its sha256, hashed while written. */
export function directorySink(dir: string): CollectionSink & { readonly items: readonly SinkItem[] } {
  // Resolved now: a listing steps into the folders it lists while the thread pool opens these files.
  const base = resolve(dir);
  const items: SinkItem[] = [];
  return {
    items,
    async addStream(path, body, meta) {
      assertSafeRelativePath(path, "collected path");
      const target = join(base, path);
      await mkdir(dirname(target), { recursive: true });
      const item = await hashThrough(path, body, meta, createWriteStream(target, { flags: "wx" }));
      items.push(item);
      return item;
    },
  };
}

/** Hashes every item and keeps nothing but the digests: for benchmarks and dry runs. */
export function hashingSink(): CollectionSink & { readonly items: readonly SinkItem[] } {
  const items: SinkItem[] = [];
  return {
    items,
    async addStream(path, body, meta) {
      assertSafeRelativePath(path, "collected path");
      const item = await hashThrough(path, body, meta, undefined);
      items.push(item);
      return item;
    },
  };
}

async function hashThrough(
  path: string,
  body: Readable,
  meta: SinkItemMeta,
  out: NodeJS.WritableStream | undefined,
): Promise<SinkItem> {
  const hash = createHash("sha256");
  let size = 0;
  async function* tap(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      hash.update(bytes);
      size += bytes.length;
      yield bytes;
    }
  }
  try {
    if (out === undefined) for await (const _ of tap(body));
    else await pipeline(body, tap, out);
  } catch (error) {
    throw toCustodyError(error, "ERR_IO", `could not write ${path}`);
  }
  return { path, size, sha256: hash.digest("hex"), ...meta };
}

/** The part of the archive's PackageWriter a collection needs (structural, so no import cycle). */
export interface PackageWriterLike {
  addStream(
    pathUnderData: string,
    readable: Readable,
    meta?: { dataPoint?: string; source?: string; collectedAt?: Date },
  ): Promise<unknown>;
}

/** Streams collected items straight into an investigation package: hashed as written, no temp copy. */
export function packageWriterSink(writer: PackageWriterLike): CollectionSink {
  return { addStream: (path, body, meta) => writer.addStream(path, body, meta) };
}
