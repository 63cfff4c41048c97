import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { CustodyError } from "@custody/core";
import { ThreadedHasher } from "@custody/hash";
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
   * the call, or until the promise it returns settles (the caller keeps its bytes unchanged until then:
   * a large entry is hashed on a worker thread, from where the bytes lie when that is shared memory).
   * The next chunk may come before that; a rejection means the verification cannot finish.
   */
  observe(chunk: Uint8Array, position: number): undefined | Promise<void>;
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
 * From this size on, a fed entry's sha256 runs on a worker thread (starting one costs a few ms), so
 * the thread that feeds it (a store's, which reads the copy for its own hash on another worker) only
 * copies the bytes over and computes the CRC-32.
 */
const THREADED_FROM_BYTES = 32 * 1024 * 1024;
/** The worker's ring slots: a store feeds 2 MiB reads. */
const THREADED_SLOT_BYTES = 2 * 1024 * 1024;

/**
 * Opens the package and checks its structure (a hostile archive is refused here, with a coded error,
 * before a byte of it is fed), then waits for its bytes. Only payload entries (`data/…`) are fed: the tag
 * files are read whole, as the verification needs their contents anyway.
 *
 * `layoutOf`: a file that `file` is a copy of, while the copy is still being made (its end, where the
 * archive's directory lies, not yet there): where the entries lie is read from it, so the feeding can
 * begin with the copy's first bytes. Nothing else is taken from it: `finish` opens `file` itself, checks
 * its structure, and uses a fed entry's hash only where `file` places that entry exactly where it was
 * fed (anything else is read from `file`).
 */
export async function startPackageVerification(
  file: string,
  options: VerifyOptions,
  layoutOf?: string,
): Promise<FedVerification> {
  const open = (path: string) =>
    openPackageReader(path, options.limits === undefined ? {} : { limits: options.limits });
  const planned = await open(layoutOf ?? file);
  const spans = fedSpans(planned);
  let reader: PackageReader | undefined = layoutOf === undefined ? planned : undefined;
  if (layoutOf !== undefined) await planned.close();
  let next = 0;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const span of spans) span.dispose();
    await reader?.close();
  };
  return {
    observe(chunk, position) {
      const end = position + chunk.byteLength;
      while (next < spans.length && (spans[next] as FedSpan).end <= position) next += 1;
      const waiting: Promise<void>[] = [];
      for (let at = next; at < spans.length; at++) {
        const span = spans[at] as FedSpan;
        if (span.start >= end) break;
        const held = span.take(chunk, position);
        if (held !== undefined) waiting.push(held);
      }
      if (waiting.length === 0) return undefined;
      return waiting.length === 1 ? waiting[0] : Promise.all(waiting).then(() => undefined);
    },
    async finish() {
      try {
        if (closed) throw new CustodyError("ERR_INTERNAL", "the fed verification was closed");
        reader ??= await open(file);
        const hashed = new Map<string, HashedEntry>();
        for (const span of spans) {
          const result = await span.result();
          if (result !== undefined && span.lies(reader)) hashed.set(span.entry.path, result);
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
  #hash: Hash | ThreadedHasher | undefined;
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

  /** Takes the entry's bytes in `chunk`; a promise while its hashing thread makes room for them. */
  take(chunk: Uint8Array, position: number): Promise<void> | undefined {
    if (this.#broken) return undefined;
    const from = Math.max(position, this.start);
    // Only the next bytes of the entry extend it: anything else (a gap, bytes seen before) spoils it.
    // (A hashing thread is stopped only by `dispose`: bytes it still holds are let go normally.)
    if (from !== this.start + this.#got || this.#got === this.end - this.start) {
      this.#broken = true;
      return undefined;
    }
    const part = chunk.subarray(from - position, Math.min(chunk.byteLength, this.end - position));
    this.#hash ??=
      this.end - this.start >= THREADED_FROM_BYTES
        ? new ThreadedHasher({ algorithms: ["sha256"], slotBytes: THREADED_SLOT_BYTES })
        : createHash("sha256");
    this.#crc = crc32(part, this.#crc);
    this.#got += part.byteLength;
    // The bytes are handed to the thread where they lie when they are in shared memory (a store's ring).
    if (this.#hash instanceof ThreadedHasher) return this.#hash.updateShared(part);
    this.#hash.update(part);
    return undefined;
  }

  /** Whether `reader` places this entry's bytes where they were fed, with the same CRC-32. */
  lies(reader: PackageReader): boolean {
    const entry = reader.get(this.entry.path);
    const span = entry === undefined ? undefined : reader.storedSpan(entry);
    return (
      span !== undefined &&
      span.start === this.start &&
      span.start + span.size === this.end &&
      span.crc32 === this.#crc32 &&
      this.name === `${reader.name}/${this.entry.path}`
    );
  }

  /** The entry's sha256 (or its CRC-32 problem) when every byte came, once and in order; else undefined. */
  async result(): Promise<HashedEntry | undefined> {
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
    const hash = this.#hash ?? createHash("sha256");
    if (!(hash instanceof ThreadedHasher)) return { sha256: hash.digest("hex") };
    const { digests } = await hash.digest();
    if (digests.sha256 === undefined)
      throw new CustodyError("ERR_INTERNAL", "the hashing thread gave no sha256");
    return { sha256: digests.sha256 };
  }

  /** Stops a hashing thread that is no longer needed (a no-op once its digest was taken). */
  dispose(): void {
    if (this.#hash instanceof ThreadedHasher) this.#hash.dispose();
    this.#hash = undefined;
  }
}
