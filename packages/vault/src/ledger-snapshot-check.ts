import { createHash } from "node:crypto";
import { closeSync } from "node:fs";
import { join } from "node:path";
import { CustodyError, canonicalJson, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { CheckResult } from "./check.js";
import type { VaultContext } from "./context.js";
import { Ledger } from "./ledger.js";
import { type BucketFile, caseBucketOf, idBucketOf, toRow } from "./ledger-buckets.js";
import { readLedgerSnapshot } from "./ledger-snapshot.js";

const TARGET = "ledger-snapshot";
/** Differences named in a finding; the count says how many more there are. */
const NAMED = 10;

/**
 * For a vault-wide check: the ledger snapshot on disk (derived data, which the next open goes on from)
 * must state what the log's records before its point state. Those records are replayed through the
 * ledger's own code and compared with the snapshot fact for fact, item for item, each item in the
 * bucket a lookup reads. A snapshot the vault would refuse is a finding too. The replay holds the
 * vault's items in memory, as an open without a snapshot does.
 */
export async function checkLedgerSnapshot(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<CheckResult | undefined> {
  if (ctx.sharedLog) return undefined;
  let differences: string[];
  try {
    differences = await snapshotDifferences(ctx);
  } catch (error) {
    if (!isCustodyError(error)) throw error;
    differences = [error.message];
  }
  if (differences.length === 0) return undefined;
  const more = differences.length > NAMED ? `; and ${differences.length - NAMED} more` : "";
  const error = new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `the ledger snapshot disagrees with the audit log (derived data: delete index/ledger.snapshot and the next open reads the whole log): ${differences.slice(0, NAMED).join("; ")}${more}`,
    { details: { differences: differences.slice(0, NAMED) } },
  );
  await ctx.guard.failed(principal, "evidence.check", TARGET, error);
  return { id: TARGET, ok: false, code: error.code, message: error.message };
}

async function snapshotDifferences(ctx: VaultContext): Promise<string[]> {
  const opened = openSnapshot(ctx);
  if (opened === undefined) return [];
  const { snapshot, items, fd } = opened;
  try {
    const { point, state } = snapshot;
    const replayed = new Ledger(createHash("sha256").update(ctx.pki.sealKey).digest("hex"));
    let lastHash: string | undefined;
    for await (const record of ctx.guard.records(0)) {
      if (record.seq >= point.treeSize) break;
      replayed.observe(record);
      lastHash = record.hash;
    }
    const differences: string[] = [];
    if (replayed.records !== point.treeSize || lastHash !== point.lastHash) {
      return [`its point (record ${point.treeSize}) is not where the log's records are`];
    }
    const stated = replayed.snapshotState();
    for (const part of ["lastItemFact", "otherFacts", "openActions"] as const) {
      if (comparable(stated[part]) !== comparable(state[part])) {
        differences.push(`its ${part} are not the log's`);
      }
    }
    differences.push(...itemDifferences(replayed, items, fd));
    return differences;
  } finally {
    closeSync(fd);
  }
}

/**
 * The snapshot on disk with its items file held open: a snapshot written meanwhile (a server's, in the
 * background) replaces the files, so one whose items file went between the two reads is read again.
 */
function openSnapshot(ctx: VaultContext) {
  for (let attempt = 0; ; attempt += 1) {
    const snapshot = readLedgerSnapshot(join(ctx.dir, "index"), ctx.pki.sealKey, ctx.config.vaultId);
    if (snapshot === undefined) return undefined;
    const items = snapshot.items as BucketFile;
    try {
      return { snapshot, items, fd: items.open() };
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
}

/** Every item of the log, in the snapshot as the log states it, in its case's bucket and its id's. */
function itemDifferences(replayed: Ledger, items: BucketFile, fd: number): string[] {
  const differences: string[] = [];
  const expected = new Map<string, string>();
  for (const item of replayed.items.values())
    expected.set(`${item.caseId}/${item.id}`, JSON.stringify(toRow(item)));
  if (items.layout.items !== expected.size) {
    differences.push(`it counts ${items.layout.items} items, the log ${expected.size}`);
  }
  const seen = new Set<string>();
  for (let bucket = 0; bucket < items.caseBuckets; bucket += 1) {
    for (const row of items.readCaseRows(bucket, fd)) {
      const key = `${row[0]}/${row[1]}`;
      seen.add(key);
      if (caseBucketOf(row[0], items.caseBuckets) !== bucket)
        differences.push(`item ${key} is in another case's bucket`);
      const logged = expected.get(key);
      if (logged === undefined) differences.push(`item ${key} is not in the log`);
      else if (logged !== JSON.stringify(row)) differences.push(`item ${key} is not as the log states it`);
    }
  }
  for (const key of expected.keys()) if (!seen.has(key)) differences.push(`item ${key} is missing`);
  let pairs = 0;
  for (let bucket = 0; bucket < 16 ** items.layout.idDigits; bucket += 1) {
    for (const [id, caseId] of items.readIdBucket(bucket, fd)) {
      pairs += 1;
      if (idBucketOf(id, items.layout.idDigits) !== bucket || !expected.has(`${caseId}/${id}`)) {
        differences.push(`the id ${id} of case ${caseId} is not where a lookup finds it`);
      }
    }
  }
  if (pairs !== expected.size) differences.push(`it names ${pairs} ids for ${expected.size} items`);
  return differences;
}

/** One form for a value built in memory and the same read back from JSON (no undefined, keys sorted). */
function comparable(value: unknown): string {
  return canonicalJson(JSON.parse(JSON.stringify(value ?? null)));
}
