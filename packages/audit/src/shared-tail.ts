import { CustodyError } from "@custody/core";
import { type ChainScanner, damagedError, scanRecords } from "./chain.js";
import type { AuditRecord } from "./record.js";
import { hasValidSeal, type SealKey } from "./seal.js";
import type { SharedAuditSink } from "./sink.js";

/** A writer's records were sequenced on a tail another writer has since extended: decide again. */
export function raceLost(sink: SharedAuditSink): CustodyError {
  return new CustodyError(
    "ERR_AUDIT_RACE",
    `another writer appended to ${sink.description} first; the caller decides again on the new tail`,
    { details: { retryable: true } },
  );
}

/**
 * Reads what other writers appended after this writer's tail, checking each record exactly as a replay at
 * open does (chain, canonical form, seal), and hands each to `observe`. Returns how many it read.
 */
export async function readOtherWriters(
  sink: SharedAuditSink,
  scanner: ChainScanner,
  sealKey: SealKey | undefined,
  observe: (record: AuditRecord) => void,
): Promise<number> {
  const from = sink.size;
  const before = scanner.count;
  await sink.refreshTail();
  if (sink.size === from) return 0;
  const problem = await scanRecords(sink.readRange(from, sink.size), scanner, (record) => {
    // Every writer of this log holds the seal key: a record without a valid seal was written by someone else.
    if (sealKey !== undefined && !hasValidSeal(sealKey, record)) {
      return {
        code: "ERR_AUDIT_UNSEALED_TAIL",
        kind: "inserted",
        message: `record ${record.seq}, appended by another writer, is not sealed by this vault`,
        seq: record.seq,
      };
    }
    observe(record);
    return undefined;
  });
  if (problem !== undefined) throw damagedError(problem, sink.description);
  return scanner.count - before;
}
