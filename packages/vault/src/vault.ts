import { X509Certificate } from "node:crypto";
import type { Readable } from "node:stream";
import type {
  AuditLog,
  AuditRecord,
  AuditVerifyReport,
  InclusionProofBundle,
  SignedCheckpoint,
  SignedCustodyReport,
} from "@custody/audit";
import { CustodyError, isCustodyError, type JsonValue } from "@custody/core";
import { createKeySigner, type Signer } from "@custody/manifest";
import {
  type AccessListing,
  changeGrant,
  type GrantRequest,
  listAccess,
  type WhoAmI,
  whoAmI,
} from "./access-ops.js";
import { type AcquisitionOptions, type AcquisitionSource, ingestAcquisitionItem } from "./acquire-ops.js";
import { acceptAgentConnection, deviceStanding, quarantineDevice, recordAgentEvent } from "./agent-ops.js";
import { type ApprovalOutcome, approveRequest, purgeItem, refuseRequest, releaseHold } from "./approvals.js";
import {
  type AuditVerifyOptions,
  checkpointAudit,
  proveAuditRecord,
  showAudit,
  verifyVaultAudit,
} from "./audit-ops.js";
import {
  type AuthenticatedPrincipal,
  authenticateIdentity,
  checkPeerCertificate,
  type RequestContext,
} from "./authenticate.js";
import { type CheckResult, checkItems } from "./check.js";
import type { VaultContext } from "./context.js";
import { type DeviceCollectorCertificate, issueCollectorCertificate } from "./device-collector-ops.js";
import type { DeviceState } from "./device-facts.js";
import {
  approveDevice,
  type DeviceRecord,
  deviceRecord,
  type LiveResponseSetting,
  listDevices,
  liveResponseSetting,
  revokeDevice,
  setLiveResponse,
  showDevice,
} from "./device-ops.js";
import {
  createEnrollmentToken,
  type Enrollment,
  type EnrollmentRequest,
  type EnrollmentToken,
  type EnrollmentTokenRequest,
  enrollDevice,
} from "./enrollment-ops.js";
import {
  extendItemRetention,
  holdItem,
  type ItemRead,
  ingestItem,
  ingestStreamed,
  type ListedItem,
  type ListOptions,
  listItems,
  readItem,
  refuseUngrantedIngest,
  showItem,
} from "./evidence-ops.js";
import {
  type IdentityIssue,
  type IdentityRevocation,
  issueIdentityFor,
  revokeIdentity,
} from "./identity-ops.js";
import { rebuildIndex } from "./index-ops.js";
import type { BodyIngestOptions, IngestOptions } from "./ingest.js";
import { initVaultFiles, type VaultInitOptions } from "./init.js";
import type { EvidenceItem } from "./items.js";
import type { LedgerSnapshots } from "./ledger-snapshots.js";
import {
  type LibraryFile,
  type LibraryUpload,
  listLibrary,
  removeLibraryFile,
  uploadLibraryFile,
} from "./library-ops.js";
import {
  decideLive,
  ingestLiveFile,
  type LiveDecisionRequest,
  type LiveFileOptions,
  recordLiveOutcome,
} from "./live-ops.js";
import { openVaultParts, type VaultOpenOptions } from "./open.js";
import { PKI_FILES, readPkiFile } from "./pki.js";
import type { LoggedAction } from "./queued-actions.js";
import type { RemediationState } from "./remediation-facts.js";
import {
  quarantineBytes,
  type RemediationFact,
  type RemediationUndoneFact,
  recordRemediation,
  recordRemediationUndone,
  remediationForUndo,
} from "./remediation-ops.js";
import { buildCustodyReport } from "./report-builder.js";
import type { ItemRef } from "./resolve.js";
import type { HashEntry, HashListName, IsolationState } from "./response-facts.js";
import {
  addHash,
  type HashListChange,
  type IsolationFact,
  isolationOf,
  listHashes,
  lookupHash,
  recordIsolation,
  removeHash,
} from "./response-ops.js";
import { rotateVaultSigner, type SignerRotation } from "./rotation.js";
import {
  type LibraryScript,
  libraryScript,
  setUnsignedScripts,
  type UnsignedScriptsSetting,
  unsignedScriptsSetting,
} from "./script-ops.js";
import {
  type CrlStatus,
  currentCrl,
  recordIngestFailure,
  refuseLogin,
  republishCrl,
  type ServerCertificate,
  serverCertificate,
} from "./server-ops.js";
import { stagesLocally } from "./stage-body.js";
import { acceptUnsealedTail, type TailAcceptance } from "./tail.js";
import {
  addTimestampAuthority,
  configuredTimestampAuthorities,
  type LogTimestamp,
  type TsaConfigured,
  type TsaRequest,
  timestampAuditLog,
} from "./timestamp-ops.js";
import type { ConfiguredTsa } from "./timestamp-signer.js";

/** An item id, or an id and the case that holds it when the same bytes sit in several cases. */
export type ItemSelector = string | ItemRef;

/**
 * One vault. Its store, audit log, policy and keys are private: every call is authenticated, authorized
 * and recorded through one guard, and everything it states comes from its signed audit log.
 */
export class Vault {
  readonly #ctx: VaultContext;
  readonly #audit: AuditLog;
  readonly #authenticated: WeakSet<AuthenticatedPrincipal>;
  readonly #revokedOnCrl: Set<string>;
  readonly #ledgerSnapshots: LedgerSnapshots;

  private constructor(opened: Awaited<ReturnType<typeof openVaultParts>>) {
    this.#ctx = opened.ctx;
    this.#audit = opened.audit;
    this.#authenticated = opened.authenticated;
    this.#revokedOnCrl = opened.revokedOnCrl;
    this.#ledgerSnapshots = opened.ledgerSnapshots;
  }

  /** Creates a vault in `dir` (refused if one exists) and returns it with the first custodian's identity. */
  static async init(dir: string, options: VaultInitOptions): Promise<{ vault: Vault; identityPem: string }> {
    const { identityPem } = await initVaultFiles(dir, options);
    const vault = await Vault.open({
      dir,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.openStore === undefined ? {} : { store: options.openStore }),
      ...(options.shared === undefined ? {} : { shared: options.shared }),
    });
    return { vault, identityPem };
  }

  static async open(options: VaultOpenOptions): Promise<Vault> {
    return new Vault(await openVaultParts(options, "open"));
  }

  /**
   * A custodian accepts records found after the last checkpoint without a valid seal (written by hand,
   * or by a writer whose key was lost): the acceptance is recorded, names the records, and is signed.
   */
  static async acceptAuditTail(
    options: VaultOpenOptions & { identityPem: string; passphrase?: string; reason: string },
  ): Promise<TailAcceptance> {
    const vault = new Vault(await openVaultParts(options, "accept-tail"));
    try {
      const principal = vault.authenticate(options.identityPem, options.passphrase);
      return await acceptUnsealedTail(vault.#ctx, vault.#audit, principal, options.reason);
    } finally {
      await vault.close();
    }
  }

  get dir(): string {
    return this.#ctx.dir;
  }

  get vaultId(): string {
    return this.#ctx.config.vaultId;
  }

  /** The CA certificates that verify this vault's signatures, identities and packages. */
  get trustAnchors(): string[] {
    return [this.#ctx.pki.caCertificatePem];
  }

  /** The vault's current CRL (PEM), as published to TLS peers and package verification. */
  crl(): Promise<string> {
    return this.#ctx.revocations.read();
  }

  /**
   * Reads what other replicas appended to the shared log (a no-op for a vault one process serves).
   * Operations do it themselves before deciding; `authenticate` is synchronous and knows only what this
   * replica has read, so a server calls this first when an identity is unknown (issued on another replica).
   */
  catchUp(): Promise<void> {
    return this.#ctx.guard.catchUp();
  }

  /**
   * Checks an identity bundle (certificate + key) and returns a principal the vault will accept: issued
   * by the vault CA for login, unrevoked, its key held by the caller, and issued (and, for a custodian,
   * approved) through this vault's log. A certificate minted with the CA key alone is refused.
   */
  authenticate(identityPem: string, passphrase?: string): AuthenticatedPrincipal {
    const { pki, clock } = this.#ctx;
    const trust = { caCertificatePem: pki.caCertificatePem, revokedSerials: this.#revokedSerials(), clock };
    return this.#admit(authenticateIdentity(identityPem, trust, passphrase));
  }

  /**
   * The principal a server request runs as: the certificate its TLS handshake verified (which proved the
   * key), checked again here on every request (vault CA, validity, revocation by the CRL and by the log,
   * login role, issued through the log). A refusal is recorded with the request id and client address.
   */
  async authenticatePeer(
    certificatePem: string | X509Certificate,
    request: RequestContext,
  ): Promise<AuthenticatedPrincipal> {
    let certificate: X509Certificate | undefined;
    try {
      certificate = typeof certificatePem === "string" ? new X509Certificate(certificatePem) : certificatePem;
      const { pki, clock, ledger } = this.#ctx;
      // Replicas: an identity another replica issued is known once this one has read the log that far.
      if (!ledger.identities.has(certificate.serialNumber.toUpperCase())) await this.catchUp();
      const trust = { caCertificatePem: pki.caCertificatePem, revokedSerials: this.#revokedSerials(), clock };
      const principal = checkPeerCertificate(certificate, trust);
      return this.#admit({
        ...principal,
        request: { requestId: request.requestId, clientAddress: request.clientAddress },
      });
    } catch (error) {
      await refuseLogin(this.#ctx, error, { ...request, certificate });
      throw isCustodyError(error)
        ? error
        : new CustodyError("ERR_IDENTITY_INVALID", "the certificate cannot be read");
    }
  }

  /**
   * Records a refusal by the TLS layer (no, foreign, expired or revoked certificate): `reason` says why,
   * `certificate` (when the peer sent one) names who.
   */
  recordRefusedConnection(
    request: RequestContext,
    reason: string,
    certificate?: X509Certificate,
  ): Promise<void> {
    const error = new CustodyError("ERR_IDENTITY_INVALID", reason);
    return refuseLogin(this.#ctx, error, { ...request, certificate });
  }

  /**
   * Refuses now, recorded as a denial on `case:<caseId>`, a caller no grant allows to ingest into the
   * case whatever device a package might name: a server calls it before it reads an upload's body
   * (`ingest` and `ingestStream` call it themselves before reading a byte).
   */
  refuseUngrantedIngest(principal: AuthenticatedPrincipal, caseId: string, source: string): Promise<void> {
    return refuseUngrantedIngest(this.#ctx, principal, caseId, source);
  }

  /** An upload that never became an ingest (the client left, the digest differed, it was too large). */
  recordIngestFailure(
    principal: AuthenticatedPrincipal,
    caseId: string,
    error: unknown,
    details: Record<string, JsonValue> = {},
  ): Promise<void> {
    return recordIngestFailure(this.#ctx, principal, caseId, error, details);
  }

  /** The server's TLS certificate for `names`, issued (and recorded) by the vault CA when needed. */
  serverCertificate(names: readonly string[]): Promise<ServerCertificate> {
    return serverCertificate(this.#ctx, names);
  }

  /** The CRL as published, with its `nextUpdate`. */
  crlStatus(): Promise<CrlStatus> {
    return currentCrl(this.#ctx);
  }

  /** Signs the CRL again (same entries, new validity) and records it. */
  republishCrl(): Promise<CrlStatus> {
    return republishCrl(this.#ctx);
  }

  /** Revoked on the CRL or by the log: looked up per serial, never copied (this runs on every request). */
  #revokedSerials(): Pick<ReadonlySet<string>, "has"> {
    const onCrl = this.#revokedOnCrl;
    const { identities } = this.#ctx.ledger;
    return { has: (serial) => onCrl.has(serial) || identities.get(serial)?.revoked === true };
  }

  /** The log must have issued (and, for a custodian's name, activated) this very certificate. */
  /** Replicas append to this vault's log (a shared vault); otherwise one process at a time holds it. */
  get sharedLog(): boolean {
    return this.#ctx.sharedLog;
  }

  /** The live-response actions the signed log holds as queued and not yet ended, oldest first. */
  openActions(): LoggedAction[] {
    return this.#ctx.ledger.actions.open();
  }

  /**
   * The person who queued an action the log holds open, as the principal it runs under when a server
   * starts again (their request is long gone): the identity the log issued under the decision's
   * certificate serial, by the same name, still active. Revocation is checked at each decision, as for
   * any principal. Only an open action of the log yields one.
   */
  actorOfAction(actionId: string): AuthenticatedPrincipal {
    const action = this.#ctx.ledger.actions.get(actionId);
    if (action === undefined)
      throw new CustodyError("ERR_NOT_FOUND", `no open action ${actionId} in the log`);
    const known = this.#ctx.ledger.identities.get(action.actorSerial);
    if (known === undefined || known.name !== action.actor || known.kind !== "person") {
      throw new CustodyError(
        "ERR_IDENTITY_INVALID",
        `action ${actionId} was queued under identity ${action.actorSerial}, which the log does not hold for ${action.actor}`,
      );
    }
    return this.#admit({
      id: known.name,
      kind: "person",
      fingerprintSha256: known.fingerprintSha256,
      serialNumber: known.serialNumber,
    });
  }

  #admit(principal: AuthenticatedPrincipal): AuthenticatedPrincipal {
    const known = this.#ctx.ledger.identities.get(principal.serialNumber);
    if (
      known === undefined ||
      known.fingerprintSha256 !== principal.fingerprintSha256 ||
      known.name !== principal.id
    ) {
      throw new CustodyError(
        "ERR_IDENTITY_INVALID",
        `the identity ${principal.serialNumber} was not issued through this vault's audit log`,
      );
    }
    if (!known.active) {
      throw new CustodyError(
        "ERR_IDENTITY_INVALID",
        `the identity ${principal.serialNumber} awaits the second custodian's approval (request ${known.requestId ?? "?"})`,
      );
    }
    this.#authenticated.add(principal);
    return principal;
  }

  /**
   * Lends the vault's collector signer to `work` for one package; the use is authorized (ingest into the
   * case) and recorded before the key signs anything.
   */
  async withCollector<T>(
    principal: AuthenticatedPrincipal,
    use: { caseId: string; target: string; details?: Record<string, string> },
    work: (signer: Signer) => Promise<T>,
  ): Promise<T> {
    const request = {
      principal,
      action: "evidence.ingest",
      resource: { kind: "case", caseId: use.caseId },
      target: use.target,
      details: { ...use.details, signedWith: "vault collector certificate" },
    } as const;
    return this.#ctx.guard.run(request, async () => {
      const signer = createKeySigner({
        keyPem: await readPkiFile(this.#ctx.dir, PKI_FILES.collectorKey),
        certificatePem: await readPkiFile(this.#ctx.dir, PKI_FILES.collectorCert),
        clock: this.#ctx.clock,
      });
      return work(signer);
    });
  }

  ingest(principal: AuthenticatedPrincipal, file: string, options: IngestOptions): Promise<EvidenceItem> {
    return ingestItem(this.#ctx, principal, file, options);
  }

  /** True when `ingestStream` can take a body in one pass (the store stages it locally). */
  get streamsIngest(): boolean {
    return stagesLocally(this.#ctx.store);
  }

  /**
   * Ingests a stream (an upload) in one pass: staged durably while hashed, examined from the staged copy,
   * then committed under its content address or dropped. Only when `streamsIngest`; a failure before the
   * vault decides is recorded as an ingest `error`.
   */
  ingestStream(
    principal: AuthenticatedPrincipal,
    body: Readable,
    options: BodyIngestOptions,
  ): Promise<EvidenceItem> {
    return ingestStreamed(this.#ctx, principal, body, options);
  }

  /**
   * Streams a disk image in create-only (one read: sha256, sha1 and md5 of the raw bytes), optionally
   * stored zstd-compressed; the image's facts go in the item record, bound by the ingest fact.
   */
  ingestAcquisition(
    principal: AuthenticatedPrincipal,
    source: AcquisitionSource,
    options: AcquisitionOptions,
  ): Promise<EvidenceItem> {
    return ingestAcquisitionItem(this.#ctx, principal, source, options);
  }

  /** Whether the vault still accepts this principal (not revoked since it was authenticated). */
  isCurrent(principal: AuthenticatedPrincipal): boolean {
    try {
      this.#ctx.guard.assertAuthenticated(principal);
      return true;
    } catch {
      return false;
    }
  }

  /** One audited live-response decision (a command at submit, dispatch or as a prerequisite; a session). */
  decideLive(principal: AuthenticatedPrincipal, request: LiveDecisionRequest): Promise<AuditRecord> {
    return decideLive(this.#ctx, principal, request);
  }

  /** A live-response outcome (result, cancel, session closed), recorded after its decision. */
  recordLiveOutcome(
    principal: AuthenticatedPrincipal,
    event: Parameters<typeof recordLiveOutcome>[2],
  ): Promise<AuditRecord> {
    return recordLiveOutcome(this.#ctx, principal, event);
  }

  /** Streams a file a device sends during a live session into the case, create-only under its announced digest. */
  ingestLiveFile(
    principal: AuthenticatedPrincipal,
    body: Readable | AsyncIterable<Uint8Array>,
    options: LiveFileOptions,
  ): Promise<EvidenceItem> {
    return ingestLiveFile(this.#ctx, principal, body, options);
  }

  /** Items the principal may list (in `caseId` when given); one audit record for the listing. */
  list(principal: AuthenticatedPrincipal, options: ListOptions = {}): Promise<ListedItem[]> {
    return listItems(this.#ctx, principal, options);
  }

  show(principal: AuthenticatedPrincipal, item: ItemSelector): Promise<EvidenceItem> {
    return showItem(this.#ctx, principal, ref(item));
  }

  /** The item's bytes, checked against its content address as they stream (the stream errors on a mismatch). */
  read(
    principal: AuthenticatedPrincipal,
    item: ItemSelector,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<ItemRead> {
    return readItem(this.#ctx, principal, ref(item), options);
  }

  hold(principal: AuthenticatedPrincipal, item: ItemSelector): Promise<EvidenceItem> {
    return holdItem(this.#ctx, principal, ref(item));
  }

  extendRetention(principal: AuthenticatedPrincipal, item: ItemSelector, until: Date): Promise<EvidenceItem> {
    return extendItemRetention(this.#ctx, principal, ref(item), until);
  }

  release(principal: AuthenticatedPrincipal, item: ItemSelector): Promise<ApprovalOutcome> {
    return releaseHold(this.#ctx, principal, ref(item));
  }

  purge(principal: AuthenticatedPrincipal, item: ItemSelector): Promise<ApprovalOutcome> {
    return purgeItem(this.#ctx, principal, ref(item));
  }

  approve(principal: AuthenticatedPrincipal, requestId: string): Promise<ApprovalOutcome> {
    return approveRequest(this.#ctx, principal, requestId);
  }

  /** Refuses (or, for its proposer, withdraws) a pending request: nothing it names happens. */
  refuse(principal: AuthenticatedPrincipal, requestId: string): Promise<ApprovalOutcome> {
    return refuseRequest(this.#ctx, principal, requestId);
  }

  /** Rebuilds the item index (derived data) from the whole log: `custody index rebuild`. */
  rebuildIndex(principal: AuthenticatedPrincipal): Promise<{ records: number; items: number }> {
    return rebuildIndex(this.#ctx, principal);
  }

  check(principal: AuthenticatedPrincipal, item?: ItemSelector): Promise<CheckResult[]> {
    return checkItems(this.#ctx, principal, item === undefined ? undefined : ref(item));
  }

  report(principal: AuthenticatedPrincipal, item: ItemSelector): Promise<SignedCustodyReport> {
    return buildCustodyReport(this.#ctx, principal, ref(item));
  }

  grant(principal: AuthenticatedPrincipal, grant: GrantRequest): Promise<ApprovalOutcome> {
    return changeGrant(this.#ctx, principal, "grant", grant);
  }

  revoke(principal: AuthenticatedPrincipal, grant: GrantRequest): Promise<ApprovalOutcome> {
    return changeGrant(this.#ctx, principal, "revoke", grant);
  }

  listAccess(principal: AuthenticatedPrincipal): Promise<AccessListing> {
    return listAccess(this.#ctx, principal);
  }

  issueIdentity(
    principal: AuthenticatedPrincipal,
    name: string,
    kind: "person" | "device" = "person",
  ): Promise<IdentityIssue> {
    return issueIdentityFor(this.#ctx, principal, name, kind);
  }

  /** Revokes every identity issued to `name` (a lost laptop, a departed analyst). */
  revokeIdentity(principal: AuthenticatedPrincipal, name: string): Promise<IdentityRevocation> {
    return revokeIdentity(this.#ctx, principal, name);
  }

  whoami(principal: AuthenticatedPrincipal): Promise<WhoAmI> {
    return whoAmI(this.#ctx, principal);
  }

  verifyAudit(
    principal: AuthenticatedPrincipal,
    options: AuditVerifyOptions = {},
  ): Promise<AuditVerifyReport> {
    return verifyVaultAudit(this.#ctx, principal, options);
  }

  showAudit(principal: AuthenticatedPrincipal, since = 0): Promise<AuditRecord[]> {
    return showAudit(this.#ctx, principal, since);
  }

  proveAudit(principal: AuthenticatedPrincipal, seq: number): Promise<InclusionProofBundle> {
    return proveAuditRecord(this.#ctx, principal, seq);
  }

  checkpoint(principal: AuthenticatedPrincipal): Promise<SignedCheckpoint> {
    return checkpointAudit(this.#ctx, principal);
  }

  /** Issues a new vault signer and records it; later checkpoints and reports use it, older ones still verify. */
  rotateSigner(principal: AuthenticatedPrincipal): Promise<SignerRotation> {
    return rotateVaultSigner(this.#ctx, principal);
  }

  /** Adds a TSA whose tokens later checkpoints and reports carry (custodians only; tried, then recorded). */
  addTimestampAuthority(principal: AuthenticatedPrincipal, request: TsaRequest): Promise<TsaConfigured> {
    return addTimestampAuthority(this.#ctx, principal, request);
  }

  /** A new checkpoint with a token: every record so far existed no later than its time. */
  timestampAuditLog(principal: AuthenticatedPrincipal): Promise<LogTimestamp> {
    return timestampAuditLog(this.#ctx, principal);
  }

  /** The TSAs the signed log configured, in the order they are asked. */
  get timestampAuthorities(): readonly ConfiguredTsa[] {
    return configuredTimestampAuthorities(this.#ctx);
  }

  /** A one-time (or `uses`-time) enrollment token for devices (`device.enroll`). */
  createEnrollmentToken(
    principal: AuthenticatedPrincipal,
    request: EnrollmentTokenRequest = {},
  ): Promise<EnrollmentToken> {
    return createEnrollmentToken(this.#ctx, principal, request);
  }

  /** Enrolls a device with a token and its certificate request; the token is the authority, not a login. */
  enroll(request: EnrollmentRequest, context: RequestContext): Promise<Enrollment> {
    return enrollDevice(this.#ctx, request, context);
  }

  listDevices(principal: AuthenticatedPrincipal): Promise<DeviceRecord[]> {
    return listDevices(this.#ctx, principal);
  }

  showDevice(principal: AuthenticatedPrincipal, deviceId: string): Promise<DeviceRecord> {
    return showDevice(this.#ctx, principal, deviceId);
  }

  approveDevice(principal: AuthenticatedPrincipal, deviceId: string): Promise<DeviceRecord> {
    return approveDevice(this.#ctx, principal, deviceId);
  }

  revokeDevice(principal: AuthenticatedPrincipal, deviceId: string): Promise<DeviceRecord> {
    return revokeDevice(this.#ctx, principal, deviceId);
  }

  liveResponse(principal: AuthenticatedPrincipal): Promise<LiveResponseSetting> {
    return liveResponseSetting(this.#ctx, principal);
  }

  setLiveResponse(principal: AuthenticatedPrincipal, enabled: boolean): Promise<LiveResponseSetting> {
    return setLiveResponse(this.#ctx, principal, enabled);
  }

  /** Whether live response is on, as the log last stated it (sessions refuse to open while it is off). */
  get liveResponseEnabled(): boolean {
    return this.#ctx.ledger.live.liveResponse;
  }

  /** Where a device principal stands now: only `active` devices may hold an agent connection. */
  deviceStanding(principal: AuthenticatedPrincipal): DeviceState | "unknown" {
    return deviceStanding(this.#ctx, principal);
  }

  /** The enrolled devices as the log states them, for a server's hub (no authorization: not a caller's view). */
  enrolledDevices(): DeviceRecord[] {
    const { ledger } = this.#ctx;
    return [...ledger.live.devices.values()].map((device) => deviceRecord(ledger, device));
  }

  /** An agent's hello: checks its previous nonce (clone detection) and records a new one. */
  acceptAgentConnection(
    principal: AuthenticatedPrincipal,
    prevNonce: string | null,
    context: RequestContext,
  ): Promise<{ nonce: string }> {
    return acceptAgentConnection(this.#ctx, principal, prevNonce, context);
  }

  /** A connected device's own package-signing certificate (device-collector role, CN its id), audited. */
  issueCollectorCertificate(
    device: AuthenticatedPrincipal,
    csrPem: string,
  ): Promise<DeviceCollectorCertificate> {
    return issueCollectorCertificate(this.#ctx, device, csrPem);
  }

  /** Quarantines a device (a second live connection, a stale nonce) until a custodian approves it. */
  quarantineDevice(deviceId: string, reason: string, details: Record<string, JsonValue> = {}): Promise<void> {
    return quarantineDevice(this.#ctx, deviceId, reason, details);
  }

  /** Records an agent connection's event (`agent.protocol-error`, `agent.disconnect`, ...). */
  recordAgentEvent(
    principal: AuthenticatedPrincipal,
    action: string,
    outcome: "allow" | "deny",
    reason: string,
    context: RequestContext,
    details: Record<string, JsonValue> = {},
  ): Promise<void> {
    return recordAgentEvent(this.#ctx, principal, action, outcome, reason, context, details);
  }

  // --- live-response library and script signing (library-ops.ts) ---
  uploadLibrary(principal: AuthenticatedPrincipal, upload: LibraryUpload): Promise<LibraryFile> {
    return uploadLibraryFile(this.#ctx, principal, upload);
  }

  removeLibrary(principal: AuthenticatedPrincipal, name: string): Promise<LibraryFile> {
    return removeLibraryFile(this.#ctx, principal, name);
  }

  listLibrary(principal: AuthenticatedPrincipal): Promise<LibraryFile[]> {
    return listLibrary(this.#ctx, principal);
  }

  /** A script's bytes and signature for a run the server has authorized (no caller view: the server's). */
  libraryScript(name: string): Promise<LibraryScript> {
    return libraryScript(this.#ctx, name);
  }

  unsignedScripts(principal: AuthenticatedPrincipal): Promise<UnsignedScriptsSetting> {
    return unsignedScriptsSetting(this.#ctx, principal);
  }

  setUnsignedScripts(principal: AuthenticatedPrincipal, enabled: boolean): Promise<UnsignedScriptsSetting> {
    return setUnsignedScripts(this.#ctx, principal, enabled);
  }

  /** Whether the log holds (unpurged) item `id` in `caseId`: a run's output seen before is not stored again. */
  holdsItem(caseId: string, id: string): boolean {
    return this.#ctx.ledger.item(caseId, id)?.purged === false;
  }

  /** Whether unsigned library scripts may run, as the log last stated it. */
  get unsignedScriptsAllowed(): boolean {
    return this.#ctx.ledger.library.unsignedScripts;
  }
  // --- end of the library block ---

  // Live-response actions: the hash lists (analyze) and device isolation (response-ops.ts).
  addHash(principal: AuthenticatedPrincipal, change: HashListChange): Promise<HashEntry> {
    return addHash(this.#ctx, principal, change);
  }
  removeHash(principal: AuthenticatedPrincipal, list: HashListName, sha256: string): Promise<HashEntry> {
    return removeHash(this.#ctx, principal, list, sha256);
  }
  listHashes(principal: AuthenticatedPrincipal, list?: HashListName): Promise<HashEntry[]> {
    return listHashes(this.#ctx, principal, list);
  }
  lookupHash(sha256: string): HashEntry[] {
    return lookupHash(this.#ctx, sha256);
  }
  isolationOf(deviceId: string): IsolationState | undefined {
    return isolationOf(this.#ctx, deviceId);
  }
  recordIsolation(principal: AuthenticatedPrincipal, fact: IsolationFact): Promise<IsolationState> {
    return recordIsolation(this.#ctx, principal, fact);
  }

  // Remediations and undo (remediation-ops.ts): facts once the device reported them done.
  recordRemediation(principal: AuthenticatedPrincipal, fact: RemediationFact): Promise<RemediationState> {
    return recordRemediation(this.#ctx, principal, fact);
  }
  recordRemediationUndone(
    principal: AuthenticatedPrincipal,
    fact: RemediationUndoneFact,
  ): Promise<RemediationState> {
    return recordRemediationUndone(this.#ctx, principal, fact);
  }
  /** The remediation an undo in `caseId` names (ERR_NOT_FOUND for another case's, ERR_REMEDIATION_REFUSED once undone). */
  remediationForUndo(id: string, caseId: string): RemediationState {
    return remediationForUndo(this.#ctx, id, caseId);
  }
  /** A quarantine item's bytes, for an undo the server has authorized (no caller view: the server's). */
  quarantineBytes(remediationId: string, itemId: string): Promise<Readable> {
    return quarantineBytes(this.#ctx, remediationId, itemId);
  }

  async close(): Promise<void> {
    this.#ctx.boundPolicy.close();
    await this.#ledgerSnapshots.close();
    await this.#audit.close();
    this.#ctx.index?.close();
    await this.#ctx.store.close?.();
  }
}

function ref(item: ItemSelector): ItemRef {
  return typeof item === "string" ? { id: item } : item;
}
