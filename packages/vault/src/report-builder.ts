import {
  type AuditRecord,
  type CustodyReport,
  type ItemRecord,
  itemRecordSchema,
  type SignedCustodyReport,
  signCustodyReport,
} from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { itemRequest } from "./evidence-ops.js";
import { FACT, itemTarget } from "./facts.js";
import { isRemediationFact } from "./remediation-facts.js";
import { type ItemRef, resolveItem } from "./resolve.js";

/**
 * Builds and signs an item's custody report from the log alone: its record as the ingest fact states it,
 * its state as the later facts leave it, and every event that targets it. The request itself is recorded
 * first, then a checkpoint is signed so that every event, this request included, has an inclusion proof.
 */
export async function buildCustodyReport(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
): Promise<SignedCustodyReport> {
  const entry = await resolveItem(ctx, principal, "report.read", { ...ref, includePurged: true });
  return ctx.guard.run(itemRequest(principal, "report.read", entry), async () => {
    const target = itemTarget(entry.caseId, entry.id);
    let events: AuditRecord[] = [];
    const live: AuditRecord[] = [];
    for await (const record of ctx.guard.records()) {
      if (isLiveRecordOfCase(record, entry.caseId)) live.push(record);
      // a remediation that quarantined this item, and its undo, are part of the item's history
      if (isRemediationOfItem(record, entry.caseId, entry.id)) {
        events.push(record);
        continue;
      }
      if (record.target !== target) continue;
      // Bytes purged and ingested again into the same case start a new history.
      if (record.action === FACT.purged && record.seq < entry.ingestedSeq) events = [];
      else events.push(record);
    }
    events = withSessionRecords(events, live, ingestedRecord(events, entry.ingestedSeq));
    const checkpoint = await ctx.guard.checkpoint();
    const proofs = await ctx.guard.proveInclusions(
      events.map((e) => e.seq),
      checkpoint,
    );
    const report: CustodyReport = {
      format: "custody.report/v2",
      generatedAt: ctx.clock.now().toISOString(),
      generatedBy: principal.id,
      vaultId: ctx.config.vaultId,
      item: {
        record: ingestedRecord(events, entry.ingestedSeq),
        state: {
          legalHold: entry.legalHold,
          purged: entry.purged,
          ...(entry.retainUntil === undefined ? {} : { retainUntil: entry.retainUntil }),
        },
      },
      events,
      proofs,
    };
    return signCustodyReport(report, ctx.signer);
  });
}

/** The item record as its ingest fact states it, from the events already read. */
function ingestedRecord(events: readonly AuditRecord[], seq: number): ItemRecord {
  const fact = events.find((event) => event.seq === seq && event.action === FACT.ingested);
  if (fact === undefined) {
    throw new CustodyError(
      "ERR_AUDIT_RECORD_INVALID",
      `the ingest record ${seq} is not in the item's history`,
    );
  }
  return itemRecordSchema.parse(fact.details.record);
}

/** A live-response record (a session's commands, results, its opening and closing) of one case. */
function isLiveRecordOfCase(record: AuditRecord, caseId: string): boolean {
  return (
    record.action.startsWith("live.") &&
    record.details.caseId === caseId &&
    typeof record.details.sessionId === "string"
  );
}

/** A remediation fact (recorded, undone) of one case whose quarantine items include `id`. */
function isRemediationOfItem(record: AuditRecord, caseId: string, id: string): boolean {
  return (
    isRemediationFact(record.action) &&
    record.outcome === "allow" &&
    record.details.caseId === caseId &&
    Array.isArray(record.details.itemIds) &&
    record.details.itemIds.includes(id)
  );
}

/**
 * An item a live session produced (its transcript, a file it took) carries the session id in its labels:
 * its history includes that session's records, so the report shows the commands that made it.
 */
function withSessionRecords(
  events: AuditRecord[],
  live: readonly AuditRecord[],
  record: ItemRecord,
): AuditRecord[] {
  const sessionId = record.labels.session;
  if (sessionId === undefined) return events;
  const seen = new Set(events.map((event) => event.seq));
  const session = live.filter((event) => event.details.sessionId === sessionId && !seen.has(event.seq));
  return [...events, ...session].sort((a, b) => a.seq - b.seq);
}
