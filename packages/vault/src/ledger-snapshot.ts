import { createHmac, timingSafeEqual } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AuditResumePoint } from "@custody/audit";
import { CustodyError, type Logger, makeDirectoryDurable, writeFileAtomic } from "@custody/core";
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
} from "./ledger-buckets.js";
import type { ItemsCapture, StoredItems } from "./ledger-items.js";

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
/** The items file is written this much at a time. */
const WRITE_BYTES = 4 * 1024 * 1024;
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

/** The ledger at one record, taken synchronously so that it can be written while facts go on. */
export interface CapturedLedger {
  point: AuditResumePoint;
  state: LedgerSnapshotState;
  items: ItemsCapture;
}

/**
 * Takes the ledger as it is after `point.treeSize` records (the caller makes sure it has seen exactly
 * those: synchronously, in the audit log's `checkpoint({ atPoint })`). Copies what later facts could
 * change; refuses a state a reader would refuse.
 */
export function captureLedger(ledger: Ledger, point: AuditResumePoint): CapturedLedger {
  const state = structuredClone(ledger.snapshotState());
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
  return { point: structuredClone(point), state, items: ledger.items.capture() };
}

/**
 * Writes a captured ledger: the items file, then the sealed header that names it. A crash at any point
 * leaves the previous snapshot whole. Returns the items as written, which the ledger then reads from
 * (`LedgerItems.rebase`); older items files are removed by `removeOtherItemsFiles` after that.
 */
export async function writeCapturedLedger(
  indexDir: string,
  captured: CapturedLedger,
  sealKey: Uint8Array,
  vaultId: string,
): Promise<BucketFile> {
  const { point, state } = captured;
  await makeDirectoryDurable(indexDir);
  const itemsFile = `ledger-${point.treeSize}.items`;
  const itemsPath = join(indexDir, itemsFile);
  const layout = await writeItems(itemsPath, captured.items);
  const header: SnapshotHeader = { vaultId, caseBuckets: CASE_BUCKETS, point, state, itemsFile, ...layout };
  const headerText = JSON.stringify(header);
  await writeFileAtomic(
    join(indexDir, SNAPSHOT_FILE),
    `${MAGIC}\n${headerText}\n${seal(sealKey, headerText)}\n`,
    {
      mode: 0o600,
    },
  );
  return new BucketFile(itemsPath, layout);
}

/** Removes every items file but `kept`'s (older snapshots', or one a crash left unnamed). */
export async function removeOtherItemsFiles(indexDir: string, kept: BucketFile): Promise<void> {
  for (const name of await readdir(indexDir)) {
    if (ITEMS_FILE.test(name) && join(indexDir, name) !== kept.path) {
      await unlink(join(indexDir, name)).catch(() => {});
    }
  }
}

/**
 * Writes the ledger's state after `point.treeSize` records when nothing else changes it meanwhile (the
 * tests): capture, write, then the ledger reads its items from what was written. A vault goes through
 * `LedgerSnapshots` (ledger-snapshots.ts).
 */
export async function writeLedgerSnapshot(
  indexDir: string,
  ledger: Ledger,
  point: AuditResumePoint,
  sealKey: Uint8Array,
  vaultId: string,
): Promise<void> {
  const captured = captureLedger(ledger, point);
  const written = await writeCapturedLedger(indexDir, captured, sealKey, vaultId);
  ledger.items.rebase(captured.items, written);
  await removeOtherItemsFiles(indexDir, written);
}

/**
 * Writes the items file, bucket by bucket. From a capture taken on a snapshot's items, a bucket with no
 * item changed is copied as it was (with its digest: a reader still checks it), or split when the bucket
 * counts grew; a bucket with changes is the stored one with them; ids are copied unless some were added:
 * the cost follows what changed, not the vault.
 */
async function writeItems(path: string, capture: ItemsCapture): Promise<ItemsLayout> {
  const { caseCount, idDigits } = bucketCounts(capture.count);
  const base = baseOf(capture, caseCount, idDigits);
  const rows = new Map<number, ItemRow[]>();
  for (const row of capture.rows) push(rows, caseBucketOf(row[0], caseCount), row);
  const pairs = new Map<number, [string, string][]>();
  const added = base === undefined ? capture.rows.map((row) => [row[1], row[0]] as const) : capture.added;
  for (const [id, caseId] of added) push(pairs, idBucketOf(id, idDigits), [id, caseId]);
  const layout: ItemsLayout = {
    items: capture.count,
    cases: { lengths: [], sha256: [] },
    idDigits,
    ids: { lengths: [], sha256: [] },
  };
  const handle = await open(path, "w", 0o600);
  const fd = base?.open();
  // buckets are small (~10-60 KiB): written a few MiB at a time
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    const buffers = pending;
    pending = [];
    pendingBytes = 0;
    const bytes = Buffer.concat(buffers);
    for (let done = 0; done < bytes.length; )
      done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
  };
  try {
    const write = async (into: Buckets, bytes: Buffer, digest?: string) => {
      into.lengths.push(bytes.length);
      into.sha256.push(digest ?? sha256(bytes));
      pending.push(bytes);
      pendingBytes += bytes.length;
      if (pendingBytes >= WRITE_BYTES) await flush();
    };
    for (let bucket = 0; bucket < caseCount; bucket += 1) {
      // both counts are powers of two: this bucket's items were in this bucket of the base
      const from = base === undefined ? undefined : bucket % base.caseBuckets;
      if (base === undefined || from === undefined) await write(layout.cases, json(rows.get(bucket) ?? []));
      else if (capture.changed.has(from)) {
        const kept = base.readCaseRows(from, fd).filter((row) => caseBucketOf(row[0], caseCount) === bucket);
        await write(layout.cases, json(withChanges(kept, rows.get(bucket) ?? [])));
      } else if (base.caseBuckets === caseCount) {
        await write(layout.cases, base.raw("cases", bucket, fd), base.layout.cases.sha256[bucket]);
      } else {
        const kept = base.readCaseRows(from, fd).filter((row) => caseBucketOf(row[0], caseCount) === bucket);
        await write(layout.cases, json(kept));
      }
    }
    let from: { bucket: number; pairs: [string, string][] } | undefined;
    for (let bucket = 0; bucket < 16 ** idDigits; bucket += 1) {
      const more = pairs.get(bucket) ?? [];
      if (base === undefined) await write(layout.ids, json(more));
      else if (base.layout.idDigits === idDigits && more.length === 0) {
        await write(layout.ids, base.raw("ids", bucket, fd), base.layout.ids.sha256[bucket]);
      } else {
        // an id bucket of the base is 16^k buckets here when the ids take k more digits; read it once
        const old = Math.floor(bucket / 16 ** (idDigits - base.layout.idDigits));
        if (from?.bucket !== old) from = { bucket: old, pairs: base.readIdBucket(old, fd) };
        const kept = from.pairs.filter(([id]) => idBucketOf(id, idDigits) === bucket);
        await write(layout.ids, json([...kept, ...more]));
      }
    }
    await flush();
    await handle.sync();
  } finally {
    if (fd !== undefined) closeSync(fd);
    await handle.close();
  }
  return layout;
}

/**
 * A bucket's rows from the base with the items changed since: each in its place, new ones after, as the
 * ledger holds them (an item keeps its place in its case when a fact changes it).
 */
function withChanges(stored: ItemRow[], changes: ItemRow[]): ItemRow[] {
  if (changes.length === 0) return stored;
  const key = (row: ItemRow) => `${row[0]}/${row[1]}`;
  const changed = new Map(changes.map((row) => [key(row), row]));
  const merged = stored.map((row) => {
    const now = changed.get(key(row));
    changed.delete(key(row));
    return now ?? row;
  });
  return [...merged, ...changed.values()];
}

/** The capture's base, when its buckets can be copied or split into these counts (they only grow). */
function baseOf(capture: ItemsCapture, caseCount: number, idDigits: number): BucketFile | undefined {
  const base = capture.base;
  if (base === undefined) return undefined;
  if (!(base instanceof BucketFile) || base.caseBuckets > caseCount || base.layout.idDigits > idDigits) {
    throw new CustodyError("ERR_INTERNAL", "the snapshot's items cannot be laid out from the one before");
  }
  return base;
}

function push<T>(map: Map<number, T[]>, key: number, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8");
