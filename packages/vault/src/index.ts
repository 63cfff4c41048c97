export type { AccessListing, GrantRequest, WhoAmI } from "./access-ops.js";
export type { AcquisitionOptions, AcquisitionSource } from "./acquire-ops.js";
export type { VaultApi } from "./api.js";
export { bindVault } from "./api.js";
export type { ApprovalOutcome, DoneOutcome } from "./approvals.js";
export type { AuditVerifyOptions } from "./audit-ops.js";
export type { AuthenticatedPrincipal, IdentityTrust, RequestContext } from "./authenticate.js";
export {
  authenticateIdentity,
  identityBundle,
  principalFromCertificate,
  readIdentityFile,
} from "./authenticate.js";
export type { CheckResult } from "./check.js";
export type { StoreConfig, VaultConfig, WitnessConfig } from "./config.js";
export {
  readVaultConfig,
  resolveVaultDir,
  storeConfigSchema,
  VAULT_FORMAT,
  vaultConfigSchema,
} from "./config.js";
export type { DeviceCollectorCertificate } from "./device-collector-ops.js";
export type { DeviceFacts, DeviceState } from "./device-facts.js";
export { DEVICE_ID_PATTERN, deviceFactsSchema } from "./device-facts.js";
export type { DeviceRecord, LiveResponseSetting } from "./device-ops.js";
export { type EarlyCopy, startIngestEarlyCopy } from "./early-copy.js";
export type {
  Enrollment,
  EnrollmentRequest,
  EnrollmentToken,
  EnrollmentTokenRequest,
} from "./enrollment-ops.js";
export { TOKEN_MAX_TTL_MS } from "./enrollment-ops.js";
export type { ItemRead, ListedItem, ListOptions } from "./evidence-ops.js";
export { renderCustodyReportHtml } from "./html.js";
export type { IdentityIssue, IdentityRevocation } from "./identity-ops.js";
export type { BodyIngestOptions, IngestOptions } from "./ingest.js";
export { type ExtraHash, type IngestHash, resolveIngestHashes } from "./ingest-hashes.js";
export type { VaultInitOptions } from "./init.js";
export type { EvidenceItem } from "./items.js";
export { LIBRARY_CASE, LIBRARY_NAME_PATTERN } from "./library-facts.js";
export type { LibraryFile, LibraryUpload } from "./library-ops.js";
export { assertLibraryName, MAX_LIBRARY_FILE_BYTES, MAX_SIGNATURE_BYTES } from "./library-ops.js";
export type { LiveDecisionRequest, LiveFileOptions } from "./live-ops.js";
export type { VaultOpenOptions } from "./open.js";
export type { LoggedAction } from "./queued-actions.js";
export { ACTION_RECORD } from "./queued-actions.js";
export type { QuarantineItem, RemediationState } from "./remediation-facts.js";
export { REMEDIATION_FACT } from "./remediation-facts.js";
export type { RemediationFact, RemediationUndoneFact } from "./remediation-ops.js";
export type { ItemRef } from "./resolve.js";
export type { HashEntry, HashListName, IsolationState } from "./response-facts.js";
export { HASH_LISTS, RESPONSE_FACT } from "./response-facts.js";
export type { HashListChange, IsolationFact } from "./response-ops.js";
export type { SignerRotation } from "./rotation.js";
export type { LibraryScript, UnsignedScriptsSetting } from "./script-ops.js";
export type { CrlStatus, ServerCertificate } from "./server-ops.js";
export { SERVER_FILES } from "./server-ops.js";
export type { SharedStateSource, VaultSharedState } from "./shared-state.js";
export type { TailAcceptance } from "./tail.js";
export type { LogTimestamp, TsaConfigured, TsaRequest } from "./timestamp-ops.js";
export type { ConfiguredTsa } from "./timestamp-signer.js";
export type { ItemSelector } from "./vault.js";
export { Vault } from "./vault.js";
