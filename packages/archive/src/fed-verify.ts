import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { CustodyError } from "@custody/core";
import { openPackageReader, type PackageEntry, type PackageReader } from "./package-reader.js";
import { type HashedEntry, type PackageReport, type VerifyOptions, verifyOpened } from "./verify.js";
import type { StoredSpan } from "./zip/reader.js";

/**
 * A package verification fed by a read of the file that someone else does anyway (a store hashing the
 * copy it is about to keep): the large stored payload entries are hashed (sha256 and CRC-32) from those
 * bytes as they pass, so the file is read once for both. Everything else is verified as `verifyPackage`
 * does, by `finish`.
 */
export interface FedVerification {
  /**
   * Bytes of the package file at `position`, in file order, each byte once; the chunk is used during
   * the call only (the caller may reuse its buffer as soon as it returns).
   */
  observe(chunk: Uint8Array, position: number): void;
  /**
   * Once the read is over: the report, exactly as `verifyPackage` would give it. An entry whose bytes
   * did not all come through `observe`, in order, is read from the file here instead.
   */
  finish(): Promise<PackageReport>;
  /** Closes the file without a report (the read failed); `finish` closes it too. */
  close(): Promise<void>;
}

/** Entries larger than this are hashed from the fed bytes; smaller ones are read whole by `finish`. */
const FED_FROM_BYTES = 1024 * 1024;

/**
 * Opens the package and checks its structure (a hostile archive is refused here, with a coded error,
 * before a byte of it is fed), then waits for its bytes. Only payload entries (`data/…`) are fed: the tag
 * files are read whole, as the verification needs their contents anyway.
 */
export async function startPackageVerification(
  file: string,
  options: VerifyOptions,
): Promise<FedVerification> {
  const reader = await openPackageReader(
    file,
    options.limits === undefined ? {} : { limits: options.limits },
  );
  const spans = fedSpans(reader);
  let next = 0;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await reader.close();
  };
  return {
    observe(chunk, position) {
      const end = position + chunk.byteLength;
      while (next < spans.length && (spans[next] as FedSpan).end <= position) next += 1;
      for (let at = next; at < spans.length; at++) {
        const span = spans[at] as FedSpan;
        if (span.start >= end) break;
        span.take(chunk, position);
      }
    },
    async finish() {
      try {
        const hashed = new Map<string, HashedEntry>();
        for (const span of spans) {
          const result = span.result();
          if (result !== undefined) hashed.set(span.entry.path, result);
        }
        return (await verifyOpened(reader, file, options, hashed)).report;
      } finally {
        await close();
      }
    },
    close,
  };
}

function fedSpans(reader: PackageReader): FedSpan[] {
  const spans: FedSpan[] = [];
  for (const entry of reader.entries) {
    if (!entry.path.startsWith("data/") || entry.size <= FED_FROM_BYTES) continue;
    const span = reader.storedSpan(entry);
    if (span !== undefined) spans.push(new FedSpan(entry, `${reader.name}/${entry.path}`, span));
  }
  return spans.sort((a, b) => a.start - b.start);
}

/** One stored entry's bytes, hashed as they pass; any gap or repeat and it is read again by `finish`. */
class FedSpan {
  readonly start: number;
  readonly end: number;
  readonly #crc32: number;
  #hash: Hash | undefined;
  #crc = 0;
  #got = 0;
  #broken = false;

  constructor(
    readonly entry: PackageEntry,
    /** The entry's name in the archive, as a read of it names it in a problem. */
    readonly name: string,
    span: StoredSpan,
  ) {
    this.start = span.start;
    this.end = span.start + span.size;
    this.#crc32 = span.crc32;
  }

  take(chunk: Uint8Array, position: number): void {
    if (this.#broken) return;
    const from = Math.max(position, this.start);
    // Only the next bytes of the entry extend it: anything else (a gap, bytes seen before) spoils it.
    if (from !== this.start + this.#got || this.#got === this.end - this.start) {
      this.#broken = true;
      this.#hash = undefined;
      return;
    }
    const part = chunk.subarray(from - position, Math.min(chunk.byteLength, this.end - position));
    this.#hash ??= createHash("sha256");
    this.#hash.update(part);
    this.#crc = crc32(part, this.#crc);
    this.#got += part.byteLength;
  }

  /** The entry's sha256 (or its CRC-32 problem) when every byte came, once and in order; else undefined. */
  result(): HashedEntry | undefined {
    const size = this.end - this.start;
    if (this.#broken || this.#got !== size) return undefined;
    if (this.#crc >>> 0 !== this.#crc32) {
      const name = this.name;
      return {
        problem: new CustodyError("ERR_INTEGRITY_MISMATCH", `${name}: CRC-32 differs`, {
          details: { path: name },
        }),
      };
    }
    // An empty entry is never fed (it is not larger than FED_FROM_BYTES), so a hash exists here.
    return { sha256: (this.#hash ?? createHash("sha256")).digest("hex") };
  }
}
