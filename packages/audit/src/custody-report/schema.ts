import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";
import { type InclusionProofBundle, inclusionBundleSchema } from "../proofs.js";
import { type AuditRecord, auditRecordSchema } from "../record.js";
import { type ItemRecord, itemRecordSchema } from "./item-record.js";

export const CUSTODY_REPORT_FORMAT = "custody.report/v2";

/** An item's protection as its fact records leave it: hold, retention, whether its bytes were purged. */
export const itemStateSchema = z.strictObject({
  legalHold: z.boolean(),
  retainUntil: isoTimestampSchema.optional(),
  purged: z.boolean(),
});
export interface ItemState {
  legalHold: boolean;
  retainUntil?: string;
  purged: boolean;
}

/** Everything a court needs about one item, with the proofs that its history was not rewritten. */
export const custodyReportSchema = z.strictObject({
  format: z.literal(CUSTODY_REPORT_FORMAT),
  generatedAt: isoTimestampSchema,
  generatedBy: z.string().min(1),
  vaultId: z.string().min(1),
  item: z.strictObject({ record: itemRecordSchema, state: itemStateSchema }),
  events: z.array(auditRecordSchema),
  proofs: z.array(inclusionBundleSchema),
});
export interface CustodyReport {
  format: typeof CUSTODY_REPORT_FORMAT;
  generatedAt: string;
  /** The principal who asked for the report. */
  generatedBy: string;
  vaultId: string;
  /** The record fixed at ingest and the state its fact records lead to. */
  item: { record: ItemRecord; state: ItemState };
  /** Every audit record whose target is this item (and, for an item a live session produced, the session's `live.*` records), in log order. */
  events: AuditRecord[];
  /** For each event, in the same order, an inclusion proof against one signed checkpoint. */
  proofs: InclusionProofBundle[];
}

/** The report with a detached CMS signature (base64 DER) over its RFC 8785 canonical JSON. */
export const signedCustodyReportSchema = z.strictObject({
  report: custodyReportSchema,
  signature: z
    .base64()
    .min(1)
    .max(256 * 1024),
});
export interface SignedCustodyReport {
  report: CustodyReport;
  signature: string;
}
