import { closeSync } from "node:fs";
import { open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AuditResumePoint } from "@custody/audit";
import { CustodyError, makeDirectoryDurable, writeFileAtomic } from "@custody/core";
import type { Ledger, LedgerSnapshotState } from "./ledger.js";
import {
  BucketFile,
  type Buckets,
  bucketCounts,
  CASE_BUCKETS,
  caseBucketOf,
  type ItemRow,
  type ItemsLayout,
  idBucketOf,
  sha256,
} from "./ledger-buckets.js";
import type { ItemsCapture } from "./ledger-items.js";
import {
  ITEMS_FILE,
  MAGIC,
  MAX_HEADER_BYTES,
  SNAPSHOT_FILE,
  type SnapshotHeader,
  seal,
} from "./ledger-snapshot.js";

// Writing a ledger snapshot (its format and reading: ledger-snapshot.ts; when: ledger-snapshots.ts).

/** The items file is written this much at a time. */
const WRITE_BYTES = 4 * 1024 * 1024;

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
  return { point, state, items: ledger.items.capture() };
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
