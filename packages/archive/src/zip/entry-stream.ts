import { Transform, type TransformCallback } from "node:stream";
import { crc32, type InflateRaw } from "node:zlib";
import { CustodyError, noteTransientBytes, toCustodyError } from "@custody/core";
import type { ArchiveEntry } from "./entry-checks.js";
import { inflateWhole } from "./zlib-pool.js";

/**
 * An entry's chunks (file reads, zlib's output) are dropped at once: a scavenge every 8 MiB of them
 * (`noteTransientBytes`) keeps the package writer and verifier under 150 MiB of resident memory.
 */
export const TRANSIENT_EVERY_BYTES = 8 * 1024 * 1024;

// The checks every entry's bytes pass as they are read: declared size, CRC-32, nothing hidden.

/** Inflates at most one byte more than declared, so a lying entry is caught without inflating further. */
export async function inflateSmall(raw: Buffer, entry: ArchiveEntry): Promise<Buffer> {
  const result = await inflateWhole(raw, entry.size).catch((error: unknown) => {
    throw streamError(error, entry);
  });
  switch (result.kind) {
    case "ok":
      return result.data;
    case "overflow":
      throw sizeMismatch(entry, `more than the ${entry.size} bytes declared`);
    case "trailing":
      throw hiddenBytes(entry, result.unused);
  }
}

function hiddenBytes(entry: ArchiveEntry, unused?: number): CustodyError {
  return new CustodyError(
    "ERR_ARCHIVE_MALFORMED",
    `${entry.name}: ${unused ?? "some"} hidden bytes after its compressed data`,
    {
      details: { path: entry.name },
    },
  );
}

/** Counts and CRCs the bytes as they pass: more than declared stops at once (a bomb inflates no further). */
export class EntryCheck extends Transform {
  #size = 0;
  #crc = 0;
  /** Set for deflated entries: all of the compressed bytes must have been part of the deflate stream. */
  inflater: InflateRaw | undefined;

  constructor(private readonly entry: ArchiveEntry) {
    super();
  }

  // pipeline() destroys this stream with the raw zlib or file error; readers get it with its code.
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    done(error === null ? null : streamError(error, this.entry));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.entry.size) {
      done(sizeMismatch(this.entry, `more than the ${this.entry.size} bytes declared`));
      return;
    }
    this.#crc = crc32(chunk, this.#crc);
    noteTransientBytes(chunk.length, TRANSIENT_EVERY_BYTES);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const unused = this.inflater === undefined ? 0 : this.entry.compressedSize - this.inflater.bytesWritten;
    if (unused > 0) {
      done(hiddenBytes(this.entry, unused));
    } else if (this.#size !== this.entry.size) {
      done(sizeMismatch(this.entry, `${this.#size} bytes, ${this.entry.size} declared`));
    } else if (this.#crc >>> 0 !== this.entry.crc32 >>> 0) {
      done(
        new CustodyError("ERR_INTEGRITY_MISMATCH", `${this.entry.name}: CRC-32 differs`, {
          details: { path: this.entry.name },
        }),
      );
    } else {
      done();
    }
  }
}

export function sizeMismatch(entry: ArchiveEntry, what: string): CustodyError {
  return new CustodyError("ERR_ARCHIVE_SIZE_MISMATCH", `${entry.name} holds ${what}`, {
    details: { path: entry.name },
  });
}

export function streamError(error: unknown, entry: ArchiveEntry): Error {
  if (error instanceof CustodyError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new CustodyError("ERR_ARCHIVE_MALFORMED", `${entry.name}: corrupt compressed data`, {
      cause: error,
      details: { path: entry.name },
    });
  }
  // zlib saw the end of the deflate stream and yet more compressed bytes came: hidden data.
  if (code === "ERR_STREAM_PUSH_AFTER_EOF") return hiddenBytes(entry);
  // A bug is not a property of the archive: only I/O failures become coded problems.
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code))
    return error instanceof Error ? error : new Error(String(error));
  return toCustodyError(error, "ERR_IO", `cannot read ${entry.name}`);
}
