import { hostname } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { type AccessPolicy, AccessPolicyStore, type Action, authorize, type Resource } from "@custody/access";
import { type AuditLog, openFileAuditLog } from "@custody/audit";
import { type Clock, CustodyError, type Logger, silentLogger, systemClock } from "@custody/core";
import { createKeySigner, type Signer } from "@custody/manifest";
import { type EvidenceStore, FsEvidenceStore, type StoredObject } from "@custody/store";
import {
  type AccessListing,
  changeGrant,
  type GrantRequest,
  issueIdentityFor,
  listAccess,
  type WhoAmI,
  whoAmI,
} from "./access-ops.js";
import { type ApprovalOutcome, approveRequest, purgeItem, releaseHold } from "./approvals.js";
import { type CheckResult, checkItems } from "./check.js";
import { readVaultConfig, type VaultConfig } from "./config.js";
import { buildCustodyReport } from "./custody-report.js";
import { extendItemRetention, holdItem, ingestItem, listItems, readItem, showItem } from "./evidence-ops.js";
import { type GuardedRequest, guarded } from "./guard.js";
import { type IssuedIdentity, revokeIdentity } from "./identities.js";
import { type AuthenticatedPrincipal, authenticateIdentity } from "./identity.js";
import type { IngestOptions } from "./ingest.js";
import { initVaultFiles, type VaultInitOptions } from "./init.js";
import { type EvidenceItem, ITEM_PREFIX, itemKey, itemResource, toItem } from "./item.js";
import { loadVaultPki, PKI_FILES, readPkiFile, type VaultPki } from "./pki.js";
import type { SignedCustodyReport } from "./report.js";

export interface VaultOpenOptions {
  dir: string;
  clock?: Clock;
  logger?: Logger;
  /** A store built by the caller (e.g. AzureBlobEvidenceStore); the fs store under `dir` otherwise. */
  store?: EvidenceStore;
}

const TOOL = "custody 0.1.0";

/** One vault: a store, its audit log, its access policy and its signer, every call authorized and audited. */
export class Vault {
  readonly #authenticated = new WeakSet<AuthenticatedPrincipal>();

  private constructor(
    readonly dir: string,
    readonly config: VaultConfig,
    readonly store: EvidenceStore,
    readonly audit: AuditLog,
    readonly policy: AccessPolicyStore,
    readonly pki: VaultPki,
    readonly clock: Clock,
    readonly logger: Logger,
  ) {}

  /** Creates a vault in `dir` (refused if one exists) and returns it with the first custodian's identity. */
  static async init(
    dir: string,
    options: VaultInitOptions & { openStore?: EvidenceStore },
  ): Promise<{ vault: Vault; identityPem: string }> {
    const { identityPem } = await initVaultFiles(dir, options);
    const clock = options.clock ?? systemClock;
    const vault = await Vault.open({
      dir,
      clock,
      ...(options.openStore === undefined ? {} : { store: options.openStore }),
    });
    await vault.audit.append({
      actor: options.custodian,
      action: "vault.init",
      target: `vault:${vault.config.vaultId}`,
      outcome: "allow",
      reason: `vault created with ${options.custodian} as its first custodian`,
      details: { vaultId: vault.config.vaultId },
    });
    return { vault, identityPem };
  }

  static async open(options: VaultOpenOptions): Promise<Vault> {
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? silentLogger;
    const config = await readVaultConfig(options.dir);
    const pki = await loadVaultPki(options.dir);
    const store = options.store ?? (await openConfiguredStore(options.dir, config));
    const audit = await openFileAuditLog({
      dir: join(options.dir, "audit"),
      signer: pki.signer,
      clock,
      logger,
      checkpointEvery: config.checkpointEvery,
    });
    const policy = await AccessPolicyStore.open(join(options.dir, "policy"), { clock, logger });
    return new Vault(options.dir, config, store, audit, policy, pki, clock, logger);
  }

  /** The CA certificates that verify this vault's signatures, identities and packages. */
  get trustAnchors(): string[] {
    return [this.pki.caCertificatePem];
  }

  async crl(): Promise<string> {
    return readPkiFile(this.dir, PKI_FILES.crl);
  }

  /** Checks an identity bundle (certificate + key) and returns a principal the vault will accept. */
  authenticate(identityPem: string, passphrase?: string): AuthenticatedPrincipal {
    const principal = authenticateIdentity(
      identityPem,
      {
        caCertificatePem: this.pki.caCertificatePem,
        revokedSerials: new Set(this.pki.revoked.map((r) => r.serialNumber.toUpperCase())),
        clock: this.clock,
      },
      passphrase,
    );
    this.#authenticated.add(principal);
    return principal;
  }

  /** The signer this machine's collector uses for packages it makes for this vault. */
  async collectorSigner(): Promise<Signer> {
    return createKeySigner({
      keyPem: await readPkiFile(this.dir, PKI_FILES.collectorKey),
      certificatePem: await readPkiFile(this.dir, PKI_FILES.collectorCert),
      clock: this.clock,
    });
  }

  ingest(principal: AuthenticatedPrincipal, file: string, options: IngestOptions): Promise<EvidenceItem> {
    return ingestItem(this, principal, file, options);
  }

  /** Items the principal may list (in `caseId` when given); one audit record for the listing. */
  list(principal: AuthenticatedPrincipal, options: { caseId?: string } = {}): Promise<EvidenceItem[]> {
    return listItems(this, principal, options);
  }

  show(principal: AuthenticatedPrincipal, id: string): Promise<EvidenceItem> {
    return showItem(this, principal, id);
  }

  /** The item's bytes, verified against its digest as they stream (the stream errors on a mismatch). */
  read(
    principal: AuthenticatedPrincipal,
    id: string,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ item: EvidenceItem; stream: Readable }> {
    return readItem(this, principal, id, options);
  }

  hold(principal: AuthenticatedPrincipal, id: string): Promise<EvidenceItem> {
    return holdItem(this, principal, id);
  }

  extendRetention(principal: AuthenticatedPrincipal, id: string, until: Date): Promise<EvidenceItem> {
    return extendItemRetention(this, principal, id, until);
  }

  release(principal: AuthenticatedPrincipal, id: string): Promise<ApprovalOutcome> {
    return releaseHold(this, principal, id);
  }

  purge(principal: AuthenticatedPrincipal, id: string): Promise<ApprovalOutcome> {
    return purgeItem(this, principal, id);
  }

  approve(principal: AuthenticatedPrincipal, requestId: string): Promise<ApprovalOutcome> {
    return approveRequest(this, principal, requestId);
  }

  check(principal: AuthenticatedPrincipal, id?: string): Promise<CheckResult[]> {
    return checkItems(this, principal, id);
  }

  report(principal: AuthenticatedPrincipal, id: string): Promise<SignedCustodyReport> {
    return buildCustodyReport(this, principal, id);
  }

  grant(principal: AuthenticatedPrincipal, grant: GrantRequest): Promise<ApprovalOutcome> {
    return changeGrant(this, principal, "grant", grant);
  }

  revoke(principal: AuthenticatedPrincipal, grant: GrantRequest): Promise<ApprovalOutcome> {
    return changeGrant(this, principal, "revoke", grant);
  }

  listAccess(principal: AuthenticatedPrincipal): Promise<AccessListing> {
    return listAccess(this, principal);
  }

  issueIdentity(principal: AuthenticatedPrincipal, name: string): Promise<string> {
    return issueIdentityFor(this, principal, name);
  }

  /** Revokes every identity issued to `name` (a lost laptop, a departed analyst). */
  revokeIdentity(principal: AuthenticatedPrincipal, name: string): Promise<IssuedIdentity[]> {
    return revokeIdentity(this, principal, name);
  }

  whoami(principal: AuthenticatedPrincipal): Promise<WhoAmI> {
    return whoAmI(this, principal);
  }

  /** Resolves a full id or a unique prefix to the stored item. ERR_NOT_FOUND when there is none. */
  async findItem(id: string): Promise<EvidenceItem> {
    const wanted = id.trim().toLowerCase();
    if (!/^[0-9a-f]{8,64}$/.test(wanted)) {
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        `'${id}' is not an item id (8 to 64 hex digits of its SHA-256)`,
      );
    }
    if (/^[0-9a-f]{64}$/.test(wanted)) return toItem(await this.store.head(itemKey(wanted)));
    const matches: StoredObject[] = [];
    for await (const object of this.store.list({ prefix: itemKey(wanted) })) matches.push(object);
    if (matches.length === 1 && matches[0] !== undefined) return toItem(matches[0]);
    if (matches.length === 0)
      throw new CustodyError("ERR_NOT_FOUND", `no evidence item ${id}`, { details: { id } });
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `item id prefix ${id} is ambiguous (${matches.length} items)`,
    );
  }

  async allItems(caseId?: string): Promise<EvidenceItem[]> {
    const items: EvidenceItem[] = [];
    for await (const object of this.store.list({ prefix: ITEM_PREFIX })) {
      const item = toItem(object);
      if (caseId === undefined || item.caseId === caseId) items.push(item);
    }
    return items;
  }

  itemRequest(
    principal: AuthenticatedPrincipal,
    action: GuardedRequest["action"],
    item: EvidenceItem,
    details: GuardedRequest["details"] = {},
  ): GuardedRequest {
    return {
      principal,
      action,
      resource: itemResource(item),
      target: `item:${item.id}`,
      details: { caseId: item.caseId, ...details },
    };
  }

  /** The library never trusts a bare name: only principals this vault authenticated may act. */
  assertAuthenticated(principal: AuthenticatedPrincipal): void {
    if (!this.#authenticated.has(principal)) {
      throw new CustodyError("ERR_IDENTITY_INVALID", "the principal was not authenticated by this vault");
    }
  }

  run<T>(request: GuardedRequest, perform: () => Promise<T>): Promise<T> {
    return guarded(
      {
        audit: this.audit,
        clock: this.clock,
        currentPolicy: () => this.policy.refresh(),
        isAuthenticated: (p) => this.#authenticated.has(p),
      },
      request,
      perform,
    );
  }

  allows(
    policy: AccessPolicy,
    principal: AuthenticatedPrincipal,
    action: Action,
    resource: Resource,
  ): boolean {
    return authorize(policy, principal, action, resource, { clock: this.clock }).outcome === "allow";
  }

  ingestContext(crl: string) {
    return {
      trustAnchors: this.trustAnchors,
      crls: [crl],
      clock: this.clock,
      hostname: hostname(),
      tool: TOOL,
    };
  }

  async close(): Promise<void> {
    await this.audit.close();
    await this.store.close?.();
  }
}

async function openConfiguredStore(dir: string, config: VaultConfig): Promise<EvidenceStore> {
  switch (config.store.kind) {
    case "fs":
      return FsEvidenceStore.open(join(dir, config.store.dir));
    case "azure":
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        "this vault stores evidence in Azure: open it with an AzureBlobEvidenceStore passed as `store`",
      );
  }
}
