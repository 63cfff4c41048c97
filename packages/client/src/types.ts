// Type-only: the shapes of the VaultApi. Nothing of the vault's code is loaded by the client at run time.
export type {
  AccessListing,
  ApprovalOutcome,
  AuditVerifyOptions,
  CheckResult,
  EvidenceItem,
  GrantRequest,
  IdentityIssue,
  IdentityRevocation,
  IngestOptions,
  ItemRead,
  ItemSelector,
  ListedItem,
  SignerRotation,
  VaultApi,
  WhoAmI,
} from "@custody/vault";
