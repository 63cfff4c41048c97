import { createHmac, timingSafeEqual } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { AuditResumePoint } from "@custody/audit";
import type { Logger } from "@custody/core";
import type { LedgerSnapshotState } from "./ledger.js";
import {
  BucketFile,
  type Buckets,
  bucketCounts,
  CASE_BUCKETS,
  changed,
  type ItemsLayout,
} from "./ledger-buckets.js";
import type { StoredItems } from "./ledger-items.js";

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
export const MAGIC = "custody-ledger-snapshot 1";
export const SNAPSHOT_FILE = "ledger.snapshot";
export const ITEMS_FILE = /^ledger-(\d+)\.items$/;
/** Larger than any header a vault writes (facts other than items', bucket digests): refused beyond. */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;

export interface SnapshotHeader extends ItemsLayout {
  vaultId: string;
  caseBuckets: typeof CASE_BUCKETS;
  point: AuditResumePoint;
  state: LedgerSnapshotState;
  itemsFile: string;
}

/** Records appended between two snapshots, by default (`ledgerSnapshotEvery`). */
export const LEDGER_SNAPSHOT_EVERY = 10_000;

export interface LedgerSnapshot {
  point: AuditResumePoint;
  state: LedgerSnapshotState;
  items: StoredItems;
}

function snapshotKey(sealKey: Uint8Array): Buffer {
  return createHmac("sha256", sealKey).update("custody ledger snapshot key 1").digest();
}

export function seal(sealKey: Uint8Array, header: string): string {
  return createHmac("sha256", snapshotKey(sealKey)).update(`${MAGIC}\n${header}`).digest("hex");
}

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
    throw changed(`it cannot be read (${(error as Error).message})`);
  }
  let lines: [string, string, string];
  try {
    lines = readHead(fd);
  } finally {
    closeSync(fd);
  }
  const [magic, headerText, mac] = lines;
  if (magic !== MAGIC) throw changed("it is not a ledger snapshot of this format");
  const expected = Buffer.from(seal(sealKey, headerText), "hex");
  const stated = Buffer.from(/^[0-9a-f]{64}$/.test(mac) ? mac : "", "hex");
  if (stated.length !== expected.length || !timingSafeEqual(stated, expected)) {
    throw changed("its seal is not this vault's (written or edited without the audit seal key)");
  }
  const header = JSON.parse(headerText) as SnapshotHeader;
  if (header.vaultId !== vaultId) throw changed(`it is vault ${header.vaultId}'s`);
  if (header.state.records !== header.point.treeSize) throw changed("its state and its point disagree");
  if (header.caseBuckets !== CASE_BUCKETS) throw changed(`its buckets are made by ${header.caseBuckets}`);
  if (!layoutIsSound(header)) throw changed("its buckets are not laid out as this version writes them");
  const itemsPath = join(indexDir, header.itemsFile);
  const size = [...header.cases.lengths, ...header.ids.lengths].reduce((sum, length) => sum + length, 0);
  if (statSync(itemsPath, { throwIfNoEntry: false })?.size !== size) {
    throw changed(`its items file ${header.itemsFile} is missing or not the size it was written`);
  }
  return {
    point: header.point,
    state: header.state,
    items: new BucketFile(itemsPath, header) as StoredItems,
  };
}

/** The vault's ledger snapshot, or undefined when there is none or it is refused (with a warning). */
export function loadLedgerSnapshot(
  dir: string,
  sealKey: Uint8Array,
  vaultId: string,
  logger: Logger,
): LedgerSnapshot | undefined {
  try {
    return readLedgerSnapshot(join(dir, "index"), sealKey, vaultId);
  } catch (error) {
    logger.warn({ err: error }, "the ledger snapshot is refused; reading the whole audit log");
    return undefined;
  }
}

/** A layout this version reads: sealed by the vault, so only another version of it could differ. */
function layoutIsSound(layout: ItemsLayout): boolean {
  const { caseCount, idDigits } = bucketCounts(layout.items);
  const whole = (buckets: Buckets, count: number) =>
    Array.isArray(buckets?.lengths) && buckets.lengths.length === count && buckets.sha256?.length === count;
  return (
    Number.isSafeInteger(layout.items) &&
    layout.idDigits === idDigits &&
    whole(layout.cases, caseCount) &&
    whole(layout.ids, 16 ** idDigits)
  );
}

/** The magic line, the header and its seal: read until three lines are whole. */
function readHead(fd: number): [string, string, string] {
  const chunks: Buffer[] = [];
  let total = 0;
  let newlines = 0;
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  while (newlines < 3) {
    const read = readSync(fd, chunk, 0, chunk.length, total);
    if (read === 0) throw changed("it ends before its header does");
    const part = Buffer.from(chunk.subarray(0, read));
    for (const byte of part) if (byte === 0x0a) newlines += 1;
    chunks.push(part);
    total += read;
    if (total > MAX_HEADER_BYTES) throw changed("its header is larger than any snapshot writes");
  }
  const [magic = "", header = "", mac = ""] = Buffer.concat(chunks).toString("utf8").split("\n", 3);
  return [magic, header, mac];
}
