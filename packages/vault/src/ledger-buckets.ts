import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { CustodyError } from "@custody/core";
import type { LedgerItem } from "./ledger.js";
import type { StoredItems } from "./ledger-items.js";

/**
 * The items of a ledger snapshot (ledger-snapshot.ts) in buckets: by case (FNV-1a of the case id, a
 * power of two of them) then `[id, case]` pairs by the id's first `idDigits` hex digits. Each bucket is
 * one JSON array; the sealed header holds every bucket's length and SHA-256.
 */

/** How a case id picks its bucket (named in the header: a reader refuses one it does not know). */
export const CASE_BUCKETS = "fnv1a32-utf16";
/** Items per bucket, about: a case listed reads one bucket of this many (plus the case's own, if larger). */
const BUCKET_ITEMS = 256;

export interface Buckets {
  lengths: number[];
  sha256: string[];
}

/** What the header says of the items file. */
export interface ItemsLayout {
  /** Items (every case's copy, purged ones included). */
  items: number;
  cases: Buckets;
  /** Id buckets are keyed by the id's first `idDigits` hex digits (16^idDigits buckets). */
  idDigits: number;
  ids: Buckets;
}

export type ItemRow = [string, string, string, string | null, number, boolean, string | null, boolean];

export function toRow(item: LedgerItem): ItemRow {
  return [
    item.caseId,
    item.id,
    item.recordSha256,
    item.deviceId ?? null,
    item.ingestedSeq,
    item.legalHold,
    item.retainUntil ?? null,
    item.purged,
  ];
}

function fromRow(row: ItemRow): LedgerItem {
  const [caseId, id, recordSha256, deviceId, ingestedSeq, legalHold, retainUntil, purged] = row;
  return {
    caseId,
    id,
    recordSha256,
    deviceId: deviceId ?? undefined,
    ingestedSeq,
    legalHold,
    retainUntil: retainUntil ?? undefined,
    purged,
  };
}

/** The bucket counts for `items` items: ~256 items to a case bucket, and to an id bucket. */
export function bucketCounts(items: number): { caseCount: number; idDigits: number } {
  let caseCount = 1;
  while (caseCount < items / BUCKET_ITEMS && caseCount < 65_536) caseCount *= 2;
  const idDigits = Math.min(4, Math.max(0, Math.ceil(Math.log(items / BUCKET_ITEMS) / Math.log(16))));
  return { caseCount, idDigits };
}

/** FNV-1a (32 bits) over the case id's UTF-16 code units: a spread, not a secret (a bucket is checked by its digest). */
export function caseBucketOf(caseId: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < caseId.length; i += 1) {
    hash ^= caseId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % buckets;
}

export function idBucketOf(prefix: string, digits: number): number {
  return digits === 0 ? 0 : Number.parseInt(prefix.slice(0, digits), 16);
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Reads a snapshot's buckets of items, each checked against the sealed header's digest. */
export class BucketFile implements StoredItems {
  readonly caseBuckets: number;
  readonly #caseOffsets: number[];
  readonly #idOffsets: number[];

  constructor(
    readonly path: string,
    readonly layout: ItemsLayout,
  ) {
    this.caseBuckets = layout.cases.lengths.length;
    this.#caseOffsets = offsets(layout.cases.lengths, 0);
    const casesEnd = layout.cases.lengths.reduce((sum, length) => sum + length, 0);
    this.#idOffsets = offsets(layout.ids.lengths, casesEnd);
  }

  caseBucket(caseId: string): number {
    return caseBucketOf(caseId, this.caseBuckets);
  }

  idBucket(prefix: string): number {
    return idBucketOf(prefix, this.layout.idDigits);
  }

  readCaseBucket(bucket: number): LedgerItem[] {
    return this.readCaseRows(bucket).map(fromRow);
  }

  /** `fd`: the file opened once by `open` for many reads (a snapshot writer's copy); else opened here. */
  readCaseRows(bucket: number, fd?: number): ItemRow[] {
    return this.#checked(this.raw("cases", bucket, fd), this.layout.cases.sha256[bucket]) as ItemRow[];
  }

  readIdBucket(bucket: number, fd?: number): [string, string][] {
    return this.#checked(this.raw("ids", bucket, fd), this.layout.ids.sha256[bucket]) as [string, string][];
  }

  /** The items file, opened for many reads (`raw`'s `fd`); the caller closes it. */
  open(): number {
    try {
      return openSync(this.path, "r");
    } catch (error) {
      throw changed(`its items (${this.path}) cannot be read: ${(error as Error).message}`);
    }
  }

  /** A bucket's bytes as stored, unchecked: a copy carries the header's digest, which its reader checks. */
  raw(kind: "cases" | "ids", bucket: number, fd?: number): Buffer {
    const length = this.layout[kind].lengths[bucket] as number;
    const at = (kind === "cases" ? this.#caseOffsets : this.#idOffsets)[bucket] as number;
    const bytes = Buffer.alloc(length);
    const from = fd ?? this.open();
    try {
      let done = 0;
      while (done < length) {
        const read = readSync(from, bytes, done, length - done, at + done);
        if (read === 0) break;
        done += read;
      }
    } finally {
      if (fd === undefined) closeSync(from);
    }
    return bytes;
  }

  #checked(bytes: Buffer, digest: string | undefined): unknown[] {
    if (sha256(bytes) !== digest)
      throw changed(`its items file ${this.path} was changed after it was sealed`);
    return JSON.parse(bytes.toString("utf8")) as unknown[];
  }
}

function offsets(lengths: number[], start: number): number[] {
  const at: number[] = [];
  let next = start;
  for (const length of lengths) {
    at.push(next);
    next += length;
  }
  return at;
}

export function changed(why: string): CustodyError {
  return new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `the ledger snapshot is not usable: ${why} (delete index/ledger.snapshot: the next open reads the whole log)`,
  );
}
