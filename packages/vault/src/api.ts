import type {
  AuditRecord,
  AuditVerifyReport,
  InclusionProofBundle,
  SignedCheckpoint,
  SignedCustodyReport,
} from "@custody/audit";
import type { AccessListing, GrantRequest, WhoAmI } from "./access-ops.js";
import type { ApprovalOutcome } from "./approvals.js";
import type { AuditVerifyOptions } from "./audit-ops.js";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { CheckResult } from "./check.js";
import type { DeviceRecord, LiveResponseSetting } from "./device-ops.js";
import type { EnrollmentToken, EnrollmentTokenRequest } from "./enrollment-ops.js";
import type { ItemRead, ListedItem, ListOptions } from "./evidence-ops.js";
import type { IdentityIssue, IdentityRevocation } from "./identity-ops.js";
import type { IngestOptions } from "./ingest.js";
import type { EvidenceItem } from "./items.js";
import type { LibraryFile, LibraryUpload } from "./library-ops.js";
import type { HashEntry, HashListName } from "./response-facts.js";
import type { HashListChange } from "./response-ops.js";
import type { SignerRotation } from "./rotation.js";
import type { UnsignedScriptsSetting } from "./script-ops.js";
import type { ItemSelector, Vault } from "./vault.js";

/**
 * One caller's view of a vault: each method is one authenticated, authorized and audited vault
 * operation. The same interface is served locally (`bindVault`), by the server, and over HTTPS by
 * `@custody/client`, so a command behaves the same whichever way it reaches the vault.
 */
export interface VaultApi {
  ingest(file: string, options: IngestOptions): Promise<EvidenceItem>;
  list(options?: ListOptions): Promise<ListedItem[]>;
  show(item: ItemSelector): Promise<EvidenceItem>;
  /** The item's bytes; the stream errors when they do not hash to the item's id. */
  read(item: ItemSelector, options?: { abortSignal?: AbortSignal }): Promise<ItemRead>;
  hold(item: ItemSelector): Promise<EvidenceItem>;
  extendRetention(item: ItemSelector, until: Date): Promise<EvidenceItem>;
  release(item: ItemSelector): Promise<ApprovalOutcome>;
  purge(item: ItemSelector): Promise<ApprovalOutcome>;
  approve(requestId: string): Promise<ApprovalOutcome>;
  refuse(requestId: string): Promise<ApprovalOutcome>;
  check(item?: ItemSelector): Promise<CheckResult[]>;
  report(item: ItemSelector): Promise<SignedCustodyReport>;
  grant(grant: GrantRequest): Promise<ApprovalOutcome>;
  revoke(grant: GrantRequest): Promise<ApprovalOutcome>;
  listAccess(): Promise<AccessListing>;
  issueIdentity(name: string, kind?: "person" | "device"): Promise<IdentityIssue>;
  revokeIdentity(name: string): Promise<IdentityRevocation>;
  whoami(): Promise<WhoAmI>;
  verifyAudit(options?: AuditVerifyOptions): Promise<AuditVerifyReport>;
  showAudit(since?: number): Promise<AuditRecord[]>;
  proveAudit(seq: number): Promise<InclusionProofBundle>;
  checkpoint(): Promise<SignedCheckpoint>;
  rotateSigner(): Promise<SignerRotation>;
  createEnrollmentToken(request?: EnrollmentTokenRequest): Promise<EnrollmentToken>;
  listDevices(): Promise<DeviceRecord[]>;
  showDevice(deviceId: string): Promise<DeviceRecord>;
  approveDevice(deviceId: string): Promise<DeviceRecord>;
  revokeDevice(deviceId: string): Promise<DeviceRecord>;
  liveResponse(): Promise<LiveResponseSetting>;
  setLiveResponse(enabled: boolean): Promise<LiveResponseSetting>;
  listLibrary(): Promise<LibraryFile[]>;
  uploadLibrary(upload: LibraryUpload): Promise<LibraryFile>;
  removeLibrary(name: string): Promise<LibraryFile>;
  unsignedScripts(): Promise<UnsignedScriptsSetting>;
  setUnsignedScripts(enabled: boolean): Promise<UnsignedScriptsSetting>;
  // the vault-wide hash lists (known-bad, known-good) that analyze matches against
  addHash(change: HashListChange): Promise<HashEntry>;
  removeHash(list: HashListName, sha256: string): Promise<HashEntry>;
  listHashes(list?: HashListName): Promise<HashEntry[]>;
}

/** The vault as seen by one authenticated principal. */
export function bindVault(vault: Vault, principal: AuthenticatedPrincipal): VaultApi {
  return {
    ingest: (file, options) => vault.ingest(principal, file, options),
    list: (options) => vault.list(principal, options),
    show: (item) => vault.show(principal, item),
    read: (item, options) => vault.read(principal, item, options),
    hold: (item) => vault.hold(principal, item),
    extendRetention: (item, until) => vault.extendRetention(principal, item, until),
    release: (item) => vault.release(principal, item),
    purge: (item) => vault.purge(principal, item),
    approve: (requestId) => vault.approve(principal, requestId),
    refuse: (requestId) => vault.refuse(principal, requestId),
    check: (item) => vault.check(principal, item),
    report: (item) => vault.report(principal, item),
    grant: (grant) => vault.grant(principal, grant),
    revoke: (grant) => vault.revoke(principal, grant),
    listAccess: () => vault.listAccess(principal),
    issueIdentity: (name, kind) => vault.issueIdentity(principal, name, kind),
    revokeIdentity: (name) => vault.revokeIdentity(principal, name),
    whoami: () => vault.whoami(principal),
    verifyAudit: (options) => vault.verifyAudit(principal, options),
    showAudit: (since) => vault.showAudit(principal, since),
    proveAudit: (seq) => vault.proveAudit(principal, seq),
    checkpoint: () => vault.checkpoint(principal),
    rotateSigner: () => vault.rotateSigner(principal),
    createEnrollmentToken: (request) => vault.createEnrollmentToken(principal, request),
    listDevices: () => vault.listDevices(principal),
    showDevice: (deviceId) => vault.showDevice(principal, deviceId),
    approveDevice: (deviceId) => vault.approveDevice(principal, deviceId),
    revokeDevice: (deviceId) => vault.revokeDevice(principal, deviceId),
    liveResponse: () => vault.liveResponse(principal),
    setLiveResponse: (enabled) => vault.setLiveResponse(principal, enabled),
    listLibrary: () => vault.listLibrary(principal),
    uploadLibrary: (upload) => vault.uploadLibrary(principal, upload),
    removeLibrary: (name) => vault.removeLibrary(principal, name),
    unsignedScripts: () => vault.unsignedScripts(principal),
    setUnsignedScripts: (enabled) => vault.setUnsignedScripts(principal, enabled),
    addHash: (change) => vault.addHash(principal, change),
    removeHash: (list, sha256) => vault.removeHash(principal, list, sha256),
    listHashes: (list) => vault.listHashes(principal, list),
  };
}
