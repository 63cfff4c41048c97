import { toJsonSchemas } from "../json-schema.js";
import { itemRecordSchema } from "./item-record.js";
import { signedCustodyReportSchema } from "./schema.js";

const DESCRIPTIONS = {
  "custody-report-v2": [
    signedCustodyReportSchema,
    "A signed custody.report/v2: {report, signature}, where signature is a detached CMS SignedData (base64 DER) " +
      "by the vault signer over the RFC 8785 canonical JSON of report. report.item holds the item record and " +
      "the state its fact records lead to; report.events are the audit records about item:<caseId>/<sha256> in " +
      "log order; report.proofs[i] is the custody.audit.inclusion/v1 bundle of events[i], all against one checkpoint.",
  ],
  "custody-item-v1": [
    itemRecordSchema,
    "custody.item/v1: the immutable facts of an evidence item, fixed at ingest; recordSha256 = sha256 of its " +
      "RFC 8785 canonical JSON.",
  ],
} as const;

/** JSON Schemas (draft 2020-12) of the custody report and item record formats, keyed by file name stem. */
export function custodyReportJsonSchemas(): Record<string, Record<string, unknown>> {
  return toJsonSchemas(DESCRIPTIONS);
}
