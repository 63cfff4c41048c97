import { createHmac, timingSafeEqual } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AuditLog, AuditResumePoint } from "@custody/audit";
import { CustodyError, type Logger, makeDirectoryDurable, writeFileAtomic } from "@custody/core";
import type { VaultContext } from "./context.js";
import type { Ledger, LedgerSnapshotState } from "./ledger.js";
import {
  BucketFile,
  type Buckets,
  bucketCounts,
  CASE_BUCKETS,
  caseBucketOf,
  changed,
  type ItemRow,
  type ItemsLayout,
  idBucketOf,
  sha256,
  toRow,
} from "./ledger-buckets.js";
import type { LedgerItems, StoredItems } from "./ledger-items.js";

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
/** Larger than any header a vault writes (facts other than items', bucket digests): refused beyond. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

interface SnapshotHeader extends ItemsLayout {
  vaultId: string;
  caseBuckets: typeof CASE_BUCKETS;
  point: AuditResumePoint;
  state: LedgerSnapshotState;
  itemsFile: string;
}

/** Records appended between two snapshots, by default (`ledgerSnapshotEvery`). */
export const LEDGER_SNAPSHOT_EVERY = 10_000;

/** When the next ledger snapshot is due: `every` records after the one of `records` records. */
export interface LedgerSnapshotPolicy {
  every: number;
  records: number;
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

/**
 * Writes the ledger's state after `point.treeSize` records (the caller holds the log's lock and the
 * ledger has seen exactly those records): the items file, then the sealed header that names it, then
 * older items files are removed. A crash at any point leaves the previous snapshot whole.
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
  // what a reader would refuse is not written (the bucket digests add ~0.6 MiB per million items)
  if (Buffer.byteLength(JSON.stringify(state)) > MAX_HEADER_BYTES / 2) {
    throw new CustodyError(
      "ERR_SIZE_LIMIT",
      "the ledger's facts other than items' are too many for a snapshot header",
    );
  }
  await makeDirectoryDurable(indexDir);
  const itemsFile = `ledger-${point.treeSize}.items`;
  const layout = await writeItems(join(indexDir, itemsFile), ledger.items);
  const header: SnapshotHeader = { vaultId, caseBuckets: CASE_BUCKETS, point, state, itemsFile, ...layout };
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

/**
 * Writes the items file, bucket by bucket. From a ledger read from a snapshot with the same bucket
 * counts, a case bucket nobody read is copied as it was (with its digest: a reader still checks it), an
 * id bucket is copied unless ids were added to it: the cost follows what changed since, not the vault.
 */
async function writeItems(path: string, items: LedgerItems): Promise<ItemsLayout> {
  const { caseCount, idDigits } = bucketCounts(items.count);
  const { stored, casesRead, loaded, added } = items.changes();
  const previous =
    stored instanceof BucketFile && stored.caseBuckets === caseCount && stored.layout.idDigits === idDigits
      ? stored
      : undefined;
  const byCase = new Map<number, ItemRow[]>();
  const addedIds = new Map<number, [string, string][]>();
  for (const item of previous === undefined ? items.values() : loaded) {
    const bucket = caseBucketOf(item.caseId, caseCount);
    push(byCase, bucket, toRow(item));
    if (previous === undefined) push(addedIds, idBucketOf(item.id, idDigits), [item.id, item.caseId]);
  }
  if (previous !== undefined) for (const pair of added) push(addedIds, idBucketOf(pair[0], idDigits), pair);
  const layout: ItemsLayout = {
    items: items.count,
    cases: { lengths: [], sha256: [] },
    idDigits,
    ids: { lengths: [], sha256: [] },
  };
  const handle = await open(path, "w", 0o600);
  try {
    const write = async (into: Buckets, bytes: Buffer, digest?: string) => {
      into.lengths.push(bytes.length);
      into.sha256.push(digest ?? sha256(bytes));
      await handle.write(bytes);
    };
    for (let bucket = 0; bucket < caseCount; bucket += 1) {
      if (previous !== undefined && !casesRead.has(bucket)) {
        await write(layout.cases, previous.raw("cases", bucket), previous.layout.cases.sha256[bucket]);
      } else await write(layout.cases, json(byCase.get(bucket) ?? []));
    }
    for (let bucket = 0; bucket < 16 ** idDigits; bucket += 1) {
      const more = addedIds.get(bucket);
      if (previous !== undefined && more === undefined) {
        await write(layout.ids, previous.raw("ids", bucket), previous.layout.ids.sha256[bucket]);
      } else {
        const pairs = previous === undefined ? [] : previous.readIdBucket(bucket);
        await write(layout.ids, json([...pairs, ...(more ?? [])]));
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return layout;
}

function push<T>(map: Map<number, T[]>, key: number, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8");
