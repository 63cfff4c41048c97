export type { AzureAuditSinkOptions } from "./audit-sink.js";
export { AzureAuditSink, openAzureAuditLog } from "./audit-sink.js";
export type { AzureAuditLocation, SegmentInfo } from "./audit-source.js";
export { AzureAuditSource } from "./audit-source.js";
export { AzureBlobEvidenceStore } from "./blob-store.js";
export { defaultAzureCredential } from "./credential.js";
export type { AzureBlobEvidenceStoreOptions, TokenCredential } from "./options.js";
export type { ComputeVmSnapshotsOptions } from "./vm-snapshots.js";
export { ComputeVmSnapshots } from "./vm-snapshots.js";
