export type { AccessListing, GrantRequest, WhoAmI } from "./access-ops.js";
export type { ApprovalOutcome } from "./approvals.js";
export {
  checkpointAudit,
  proveAuditRecord,
  showAudit,
  verifyVaultAudit,
} from "./audit-ops.js";
export type { CheckResult } from "./check.js";
export type { StoreConfig, VaultConfig } from "./config.js";
export { readVaultConfig, resolveVaultDir, storeConfigSchema, vaultConfigSchema } from "./config.js";
export { renderCustodyReportHtml } from "./html.js";
export type { IssuedIdentity } from "./identities.js";
export { readIssuedIdentities } from "./identities.js";
export type { AuthenticatedPrincipal, IdentityTrust } from "./identity.js";
export {
  authenticateIdentity,
  identityBundle,
  principalFromCertificate,
  readIdentityFile,
} from "./identity.js";
export type { IngestOptions } from "./ingest.js";
export type { VaultInitOptions } from "./init.js";
export type { Acquisition, EvidenceItem, ItemRecord } from "./item.js";
export { acquisitionSchema, itemRecordSchema } from "./item.js";
export type { CustodyReport, ReportVerification, SignedCustodyReport } from "./report.js";
export { signCustodyReport, verifyCustodyReport } from "./report.js";
export type { VaultOpenOptions } from "./vault.js";
export { Vault } from "./vault.js";
