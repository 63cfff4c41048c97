import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AuditLog, AuditResumePoint } from "@custody/audit";
import { CustodyError, makeDirectoryDurable, writeFileAtomic } from "@custody/core";
import type { VaultContext } from "./context.js";
import type { Ledger, LedgerItem, LedgerSnapshotState } from "./ledger.js";
import type { StoredItems } from "./ledger-items.js";
import type { LedgerSnapshotPolicy } from "./open.js";

/**
 * A ledger snapshot: the ledger as the signed log stated it after `point.treeSize` records, so an open
 * reads only the records after it (a vault of a million items opens without reading a million facts).
 *
 * Two files in the vault's `index/` folder, derived data like the item index (deleting them costs one
 * whole read of the log at the next open):
 * - `ledger.snapshot`: a header (the audit resume point, the facts other than items' replayed at open,
 *   the open actions, and the digest of every bucket of items) sealed by an HMAC under a key derived
 *   from the audit seal key, so nobody without that key can write one the vault accepts;
 * - `ledger-<records>.items`: the items in buckets (by a hash of their case, then [id, case] pairs by
 *   the first hex digits of the id), each read only when one of its items is asked for, and checked
 *   against the header's digest first.
 *
 * An edit to the log's records before the point is not read at open: `custody check` and `custody
 * audit verify` read the whole log and find it, as they always did.
 */
const MAGIC = "custody-ledger-snapshot 1";
const SNAPSHOT_FILE = "ledger.snapshot";
const ITEMS_FILE = /^ledger-(\d+)\.items$/;
/** Items per bucket, about: a case listed reads one bucket of this many (plus the case's own, if larger). */
const BUCKET_ITEMS = 256;
/** Larger than any header a vault writes (facts other than items', bucket digests): refused beyond. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

interface Buckets {
  lengths: number[];
  sha256: string[];
}

interface SnapshotHeader {
  vaultId: string;
  point: AuditResumePoint;
  state: LedgerSnapshotState;
  itemsFile: string;
  cases: Buckets;
  /** Id buckets are keyed by the id's first `idDigits` hex digits (16^idDigits buckets). */
  idDigits: number;
  ids: Buckets;
}

export interface LedgerSnapshot {
  point: AuditResumePoint;
  state: LedgerSnapshotState;
  items: StoredItems;
}

function snapshotKey(sealKey: Uint8Array): Buffer {
  return createHmac("sha256", sealKey).update("custody ledger snapshot key 1").digest();
}

function seal(sealKey: Uint8Array, header: string): string {
  return createHmac("sha256", snapshotKey(sealKey)).update(`${MAGIC}\n${header}`).digest("hex");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * The vault's snapshot, when there is one this vault sealed; undefined when there is none. A snapshot
 * that is unreadable, not sealed by this vault's key, or another vault's is refused with
 * ERR_INTEGRITY_MISMATCH (the caller reads the whole log instead, and says so).
 */
export function readLedgerSnapshot(
  indexDir: string,
  sealKey: Uint8Array,
  vaultId: string,
): LedgerSnapshot | undefined {
  let fd: number;
  try {
    fd = openSync(join(indexDir, SNAPSHOT_FILE), "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw refused(`it cannot be read (${(error as Error).message})`);
  }
  let lines: [string, string, string];
  try {
    lines = readHead(fd);
  } finally {
    closeSync(fd);
  }
  const [magic, headerText, mac] = lines;
  if (magic !== MAGIC) throw refused("it is not a ledger snapshot of this format");
  const expected = Buffer.from(seal(sealKey, headerText), "hex");
  const stated = Buffer.from(/^[0-9a-f]{64}$/.test(mac) ? mac : "", "hex");
  if (stated.length !== expected.length || !timingSafeEqual(stated, expected)) {
    throw refused("its seal is not this vault's (written or edited without the audit seal key)");
  }
  const header = JSON.parse(headerText) as SnapshotHeader;
  if (header.vaultId !== vaultId) throw refused(`it is vault ${header.vaultId}'s`);
  if (header.state.records !== header.point.treeSize) throw refused("its state and its point disagree");
  return {
    point: header.point,
    state: header.state,
    items: new BucketFile(join(indexDir, header.itemsFile), header),
  };
}

/** The magic line, the header and its seal: read until three lines are whole. */
function readHead(fd: number): [string, string, string] {
  const chunks: Buffer[] = [];
  let total = 0;
  let newlines = 0;
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  while (newlines < 3) {
    const read = readSync(fd, chunk, 0, chunk.length, total);
    if (read === 0) throw refused("it ends before its header does");
    const part = Buffer.from(chunk.subarray(0, read));
    for (const byte of part) if (byte === 0x0a) newlines += 1;
    chunks.push(part);
    total += read;
    if (total > MAX_HEADER_BYTES) throw refused("its header is larger than any snapshot writes");
  }
  const [magic = "", header = "", mac = ""] = Buffer.concat(chunks).toString("utf8").split("\n", 3);
  return [magic, header, mac];
}

/** Reads a snapshot's buckets of items, each checked against the sealed header's digest. */
class BucketFile implements StoredItems {
  readonly caseBuckets: number;
  readonly #caseOffsets: number[];
  readonly #idOffsets: number[];

  constructor(
    private readonly path: string,
    private readonly header: SnapshotHeader,
  ) {
    this.caseBuckets = header.cases.lengths.length;
    this.#caseOffsets = offsets(header.cases.lengths, 0);
    const casesEnd = header.cases.lengths.reduce((sum, length) => sum + length, 0);
    this.#idOffsets = offsets(header.ids.lengths, casesEnd);
  }

  caseBucket(caseId: string): number {
    return caseBucketOf(caseId, this.caseBuckets);
  }

  idBucket(prefix: string): number {
    return idBucketOf(prefix, this.header.idDigits);
  }

  readCaseBucket(bucket: number): LedgerItem[] {
    const rows = this.#read(bucket, this.#caseOffsets, this.header.cases) as ItemRow[];
    return rows.map(fromRow);
  }

  readIdBucket(bucket: number): [string, string][] {
    return this.#read(bucket, this.#idOffsets, this.header.ids) as [string, string][];
  }

  #read(bucket: number, at: number[], buckets: Buckets): unknown[] {
    const length = buckets.lengths[bucket] as number;
    const bytes = Buffer.alloc(length);
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch (error) {
      throw refused(`its items (${this.path}) cannot be read: ${(error as Error).message}`);
    }
    try {
      let done = 0;
      while (done < length) {
        const read = readSync(fd, bytes, done, length - done, (at[bucket] as number) + done);
        if (read === 0) break;
        done += read;
      }
    } finally {
      closeSync(fd);
    }
    if (sha256(bytes) !== buckets.sha256[bucket]) {
      throw refused(`its items file ${this.path} was changed after it was sealed`);
    }
    return JSON.parse(bytes.toString("utf8")) as unknown[];
  }
}

type ItemRow = [string, string, string, string | null, number, boolean, string | null, boolean];

function toRow(item: LedgerItem): ItemRow {
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

function offsets(lengths: number[], start: number): number[] {
  const at: number[] = [];
  let next = start;
  for (const length of lengths) {
    at.push(next);
    next += length;
  }
  return at;
}

function caseBucketOf(caseId: string, buckets: number): number {
  return createHash("sha256").update(caseId).digest().readUInt32BE(0) % buckets;
}

function idBucketOf(prefix: string, digits: number): number {
  return digits === 0 ? 0 : Number.parseInt(prefix.slice(0, digits), 16);
}

/**
 * Writes the ledger's state after `point.treeSize` records (the caller holds the log's lock and the
 * ledger has seen exactly those records), then removes older items files. Every item is read first.
 */
export async function writeLedgerSnapshot(
  indexDir: string,
  ledger: Ledger,
  point: AuditResumePoint,
  sealKey: Uint8Array,
  vaultId: string,
): Promise<void> {
  const state = ledger.snapshotState();
  if (state.records !== point.treeSize) {
    throw new CustodyError("ERR_INTERNAL", "the ledger and the resume point are not at the same record");
  }
  const items = [...ledger.items.values()];
  const caseCount = powerOfTwoAtLeast(Math.ceil(items.length / BUCKET_ITEMS));
  const idDigits = Math.min(4, Math.max(0, Math.ceil(Math.log(items.length / BUCKET_ITEMS) / Math.log(16))));
  const byCase: ItemRow[][] = Array.from({ length: caseCount }, () => []);
  const byId: [string, string][][] = Array.from({ length: 16 ** idDigits }, () => []);
  for (const item of items) {
    byCase[caseBucketOf(item.caseId, caseCount)]?.push(toRow(item));
    byId[idBucketOf(item.id, idDigits)]?.push([item.id, item.caseId]);
  }
  await makeDirectoryDurable(indexDir);
  const itemsFile = `ledger-${point.treeSize}.items`;
  const cases: Buckets = { lengths: [], sha256: [] };
  const ids: Buckets = { lengths: [], sha256: [] };
  const handle = await open(join(indexDir, itemsFile), "w", 0o600);
  try {
    for (const [buckets, into] of [
      [byCase, cases],
      [byId, ids],
    ] as const) {
      for (const bucket of buckets) {
        const bytes = Buffer.from(JSON.stringify(bucket), "utf8");
        into.lengths.push(bytes.length);
        into.sha256.push(sha256(bytes));
        await handle.write(bytes);
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  const header: SnapshotHeader = { vaultId, point, state, itemsFile, cases, idDigits, ids };
  const headerText = JSON.stringify(header);
  await writeFileAtomic(
    join(indexDir, SNAPSHOT_FILE),
    `${MAGIC}\n${headerText}\n${seal(sealKey, headerText)}\n`,
    {
      mode: 0o600,
    },
  );
  for (const name of await readdir(indexDir)) {
    if (ITEMS_FILE.test(name) && name !== itemsFile) await unlink(join(indexDir, name)).catch(() => {});
  }
}

/**
 * At close, under the log's lock: a snapshot of the ledger once `policy.every` records were appended
 * since the last one, over a checkpoint that signs them all. Never fails the close (the next open
 * reads more of the log, that is all).
 */
export async function snapshotLedgerIfDue(
  ctx: VaultContext,
  audit: AuditLog,
  policy: LedgerSnapshotPolicy,
): Promise<void> {
  if (ctx.sharedLog || policy.every <= 0 || ctx.ledger.records - policy.records < policy.every) return;
  // A log that cannot sign now (a failed write, an unsealed tail nobody accepted) has nothing to snapshot;
  // the close that follows reports what it must.
  const signed = await audit.checkpoint().then(
    () => true,
    () => false,
  );
  const point = signed ? audit.resumePoint() : undefined;
  if (point === undefined || point.treeSize !== ctx.ledger.records) return;
  try {
    await writeLedgerSnapshot(join(ctx.dir, "index"), ctx.ledger, point, ctx.pki.sealKey, ctx.config.vaultId);
    policy.records = point.treeSize;
  } catch (error) {
    ctx.logger.warn({ err: error }, "no ledger snapshot was written; the next open reads more of the log");
  }
}

function powerOfTwoAtLeast(n: number): number {
  let power = 1;
  while (power < n && power < 65_536) power *= 2;
  return power;
}

function refused(why: string): CustodyError {
  return new CustodyError("ERR_INTEGRITY_MISMATCH", `the ledger snapshot is not usable: ${why}`);
}
