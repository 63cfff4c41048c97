import { CustodyError, canonicalJson, isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import type { AuditRecord } from "../record.js";
import { type ItemRecord, itemRecordSha256 } from "./item-record.js";
import type { ItemState } from "./schema.js";

/** The records the vault appends after a change to an item succeeded; together they are its state. */
export const ITEM_FACT_ACTIONS = [
  "evidence.ingested",
  "evidence.hold-set",
  "evidence.hold-released",
  "evidence.retention-extended",
  "evidence.purged",
] as const;
export type ItemFactAction = (typeof ITEM_FACT_ACTIONS)[number];

const approval = {
  requestId: z.string().optional(),
  proposedBy: z.string().optional(),
  approvedBy: z.string().optional(),
};
const ingestedDetails = z.object({
  record: z.unknown(),
  recordSha256: sha256HexSchema,
  legalHold: z.boolean(),
  retainUntil: isoTimestampSchema.optional(),
});
const holdSetDetails = z.object({ legalHold: z.literal(true) });
const holdReleasedDetails = z.object({ legalHold: z.literal(false), ...approval });
const retentionDetails = z.object({ retainUntil: isoTimestampSchema });
const purgedDetails = z.object(approval);

export function isItemFactAction(action: string): action is ItemFactAction {
  return (ITEM_FACT_ACTIONS as readonly string[]).includes(action);
}

/**
 * Folds an item's fact records (its events in log order; other actions are skipped) into its state,
 * checking that they tell one consistent story: one ingest record first, whose record is `record`;
 * retention only ever extends; nothing purged under hold or retention; nothing after a purge.
 * Throws ERR_INTEGRITY_MISMATCH naming the event that disagrees.
 */
export function foldItemFacts(events: readonly AuditRecord[], record: ItemRecord): ItemState {
  let state: ItemState | undefined;
  for (const event of events) {
    if (isItemFactAction(event.action)) state = applyFact(state, event, event.action, record);
  }
  if (state === undefined) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      "no evidence.ingested record: the log never took in this item",
    );
  }
  return state;
}

function applyFact(
  state: ItemState | undefined,
  event: AuditRecord,
  action: ItemFactAction,
  record: ItemRecord,
): ItemState {
  if (event.outcome !== "allow") throw mismatch(event, `is a fact record with outcome ${event.outcome}`);
  if (state === undefined) {
    if (action !== "evidence.ingested")
      throw mismatch(event, "comes before the item's evidence.ingested record");
    return ingested(event, record);
  }
  if (state.purged) throw mismatch(event, "comes after the item was purged");
  switch (action) {
    case "evidence.ingested":
      throw mismatch(event, "is a second ingest record for the item");
    case "evidence.hold-set":
      details(event, holdSetDetails);
      return { ...state, legalHold: true };
    case "evidence.hold-released":
      details(event, holdReleasedDetails);
      return { ...state, legalHold: false };
    case "evidence.retention-extended":
      return extendRetention(state, event);
    case "evidence.purged":
      return purge(state, event);
    default:
      return action satisfies never;
  }
}

function ingested(event: AuditRecord, record: ItemRecord): ItemState {
  const facts = details(event, ingestedDetails);
  if (canonicalJson(facts.record) !== canonicalJson(record)) {
    throw mismatch(event, "records another item record than the report's");
  }
  if (facts.recordSha256 !== itemRecordSha256(record)) {
    throw mismatch(event, "names a recordSha256 that is not the record's digest");
  }
  return {
    legalHold: facts.legalHold,
    ...(facts.retainUntil === undefined ? {} : { retainUntil: facts.retainUntil }),
    purged: false,
  };
}

function extendRetention(state: ItemState, event: AuditRecord): ItemState {
  const { retainUntil } = details(event, retentionDetails);
  if (state.retainUntil !== undefined && Date.parse(retainUntil) < Date.parse(state.retainUntil)) {
    throw mismatch(event, `shortens retention from ${state.retainUntil} to ${retainUntil}`);
  }
  return { ...state, retainUntil };
}

function purge(state: ItemState, event: AuditRecord): ItemState {
  details(event, purgedDetails);
  if (state.legalHold) throw mismatch(event, "purges an item under legal hold");
  if (state.retainUntil !== undefined && Date.parse(event.time) < Date.parse(state.retainUntil)) {
    throw mismatch(event, `purges an item retained until ${state.retainUntil}`);
  }
  return { ...state, purged: true };
}

function details<T>(event: AuditRecord, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(event.details);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw mismatch(
      event,
      `has details that are not those of ${event.action}: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

function mismatch(event: AuditRecord, what: string): CustodyError {
  return new CustodyError("ERR_INTEGRITY_MISMATCH", `event ${event.seq} (${event.action}) ${what}`, {
    details: { seq: event.seq, action: event.action },
  });
}
