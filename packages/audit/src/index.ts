export type { AuditLog, AuditLogOptions, AuditResumePoint, UnsealedTail } from "./audit-log.js";
export type { AuditProblem, AuditProblemKind } from "./chain.js";
export type { Checkpoint, SignedCheckpoint, SignedCheckpointJson } from "./checkpoint.js";
export {
  CHECKPOINT_FORMAT,
  checkpointSchema,
  parseCheckpointBytes,
  signedCheckpointFromJson,
  signedCheckpointJsonSchema,
  signedCheckpointToJson,
  verifyCheckpointSignature,
} from "./checkpoint.js";
export type { DiskImage, ImageSource, ReadError } from "./custody-report/disk-image.js";
export { diskImageSchema } from "./custody-report/disk-image.js";
export type { ItemFactAction } from "./custody-report/facts.js";
export { foldItemFacts, ITEM_FACT_ACTIONS, isItemFactAction } from "./custody-report/facts.js";
export {
  assertSignedCustodyReport,
  isSignedCustodyReport,
  signedCustodyReportFromJson,
} from "./custody-report/guards.js";
export type { Acquisition, ItemRecord } from "./custody-report/item-record.js";
export {
  acquisitionSchema,
  itemAuditTarget,
  itemRecordSchema,
  itemRecordSha256,
} from "./custody-report/item-record.js";
export { custodyReportJsonSchemas } from "./custody-report/json-schema.js";
export type { CustodyReport, ItemState, SignedCustodyReport } from "./custody-report/schema.js";
export {
  CUSTODY_REPORT_FORMAT,
  custodyReportSchema,
  itemStateSchema,
  signedCustodyReportSchema,
} from "./custody-report/schema.js";
export { signCustodyReport } from "./custody-report/sign.js";
export type { ReportVerification } from "./custody-report/verify.js";
export { verifyCustodyReport } from "./custody-report/verify.js";
export { type BlockingWrites, FileAuditSink } from "./file-sink.js";
export { FileAuditSource } from "./file-source.js";
export { auditJsonSchemas } from "./json-schema.js";
export {
  openAuditLog,
  openFileAuditLog,
  RECOVERY_ACTION,
  RECOVERY_ACTOR,
  TAIL_SIGNED_ACTION,
} from "./open.js";
export type { ConsistencyProofBundle, InclusionProofBundle } from "./proofs.js";
export {
  CONSISTENCY_BUNDLE_FORMAT,
  consistencyBundleSchema,
  createConsistencyBundle,
  createInclusionBundle,
  createInclusionBundles,
  INCLUSION_BUNDLE_FORMAT,
  inclusionBundleSchema,
  verifyConsistencyBundle,
  verifyInclusionBundle,
} from "./proofs.js";
export { readAuditRecords, readLatestCheckpoint } from "./reader.js";
export type { AuditEvent, AuditOutcome, AuditRecord, JsonObject } from "./record.js";
export {
  auditEventSchema,
  auditOutcomeSchema,
  auditRecordSchema,
  GENESIS_PREV,
  MAX_DETAILS_BYTES,
  recordLeafHash,
} from "./record.js";
export type { AuditSink, AuditSource, SharedAuditSink, SinkRecovery } from "./sink.js";
export { isSharedSink } from "./sink.js";
export type { AuditVerifyReport, VerifyAuditOptions } from "./verify.js";
export { verifyAuditLog } from "./verify-parallel.js";
export type { CheckpointWitness } from "./witness.js";
export { DirectoryCheckpointWitness } from "./witness.js";
