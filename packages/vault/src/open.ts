import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { AccessPolicyStore } from "@custody/access";
import {
  type AuditLog,
  type AuditLogOptions,
  type AuditRecord,
  type BlockingWrites,
  DirectoryCheckpointWitness,
  openAuditLog,
  openFileAuditLog,
  RECOVERY_ACTOR,
  verifyCheckpointSignature,
} from "@custody/audit";
import {
  type Clock,
  CustodyError,
  canonicalJson,
  type Logger,
  silentLogger,
  systemClock,
} from "@custody/core";
import { type EvidenceStore, FsEvidenceStore } from "@custody/store";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { BoundPolicy } from "./bound-policy.js";
import { readVaultConfig, type VaultConfig } from "./config.js";
import type { VaultContext } from "./context.js";
import { Guard } from "./guard.js";
import { catchUpIndex, lazyItemIndex } from "./index-open.js";
import { Ledger } from "./ledger.js";
import { LEDGER_SNAPSHOT_EVERY, loadLedgerSnapshot } from "./ledger-snapshot.js";
import { LedgerSnapshots } from "./ledger-snapshots.js";
import { KeyedLocks } from "./locks.js";
import { loadVaultPki } from "./pki.js";
import { assertPolicyBound } from "./policy-facts.js";
import { FileRevocationList, SharedRevocationList } from "./revocations.js";
import { renewExpiringSigner } from "./rotation.js";
import { assertSharedCa, sharedStateFor } from "./shared-open.js";
import type { VaultSharedState } from "./shared-state.js";
import { VaultSigner } from "./signer.js";
import { fsStoreRoot } from "./vault-dir.js";

export interface VaultOpenOptions {
  dir: string;
  clock?: Clock;
  logger?: Logger;
  /** A store built by the caller (e.g. AzureBlobEvidenceStore); the fs store under `dir` otherwise. */
  store?: EvidenceStore;
  /**
   * Sees every audit record appended once the log is open (not the replay of older ones), when it is
   * durable, in order: where an alert engine's `observe` goes. It runs inside the append, so it must
   * only queue; a throw is logged and ignored (the vault keeps working).
   */
  onAuditRecord?: (record: AuditRecord) => void;
  /** The state replicas share (default: the one the Azure store offers, when vault.json asks for it). */
  shared?: VaultSharedState;
  /**
   * Audit appends written in the calling thread (the audit log's `blockingWrites`): `true`, every one,
   * faster one by one, but the event loop waits for every sync: for a CLI command's process, never a
   * server; `"when-alone"`, only a record with nothing else queued while writes take under a millisecond
   * (`custody serve`); default `false`, all through libuv's thread pool.
   */
  blockingAuditWrites?: BlockingWrites;
  /**
   * A local vault writes a ledger snapshot (ledger-snapshot.ts) once this many records were appended
   * since the last one, in the background while it stays open and at close, so later opens read only the
   * records after it (default 10,000; 0: never).
   */
  ledgerSnapshotEvery?: number;
}

/** `init`: a log being written for the first time; `accept-tail`: a custodian reviews an unsealed tail. */
export type OpenMode = "open" | "init" | "accept-tail";

export interface OpenedVault {
  ctx: VaultContext;
  audit: AuditLog;
  authenticated: WeakSet<AuthenticatedPrincipal>;
  revokedOnCrl: Set<string>;
  ledgerSnapshots: LedgerSnapshots;
}

/**
 * Opens a vault's parts and rebuilds its state from the signed log in one pass, then refuses any file
 * that states something the log does not: another vault's log, a policy version added or rewritten on
 * disk, a witness dropped from vault.json.
 */
export async function openVaultParts(options: VaultOpenOptions, mode: OpenMode): Promise<OpenedVault> {
  const resume = { allowed: mode !== "init", used: false };
  try {
    return await openParts(options, mode, resume);
  } catch (error) {
    if (!resume.used) throw error;
    // The whole log says what went wrong, precisely (its error is the one thrown); or the snapshot was
    // the problem, and the vault opens.
    const opened = await openParts(options, mode, { allowed: false, used: false });
    (options.logger ?? silentLogger).warn(
      { err: error },
      "the open from the ledger snapshot failed, and from the whole audit log succeeded",
    );
    return opened;
  }
}

async function openParts(
  options: VaultOpenOptions,
  mode: OpenMode,
  resume: { allowed: boolean; used: boolean },
): Promise<OpenedVault> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const config = await readVaultConfig(options.dir);
  const pki = await loadVaultPki(options.dir);
  const store = options.store ?? (await openConfiguredStore(options.dir, config));
  const ledger = new Ledger(createHash("sha256").update(pki.sealKey).digest("hex"));
  const signer = new VaultSigner(pki.signers, ledger, clock, logger);
  const watch = watchRecords(options.onAuditRecord, logger);
  const shared = sharedStateFor(config, options.shared, store);
  if (shared !== undefined) await assertSharedCa(shared, pki);
  // Derived data for listings; a vault whose state is shared (Azure) has none yet (see item-index.ts).
  // Opened at the first record the log hands over, so under the log's lock: one process writes it.
  const index = shared === undefined ? lazyItemIndex(options.dir, logger) : undefined;
  const snapshot =
    resume.allowed && shared === undefined
      ? loadLedgerSnapshot(options.dir, pki.sealKey, config.vaultId, logger)
      : undefined;
  let snapshots: LedgerSnapshots | undefined;
  const auditOptions: AuditLogOptions = {
    signer,
    clock,
    logger,
    checkpointEvery: config.checkpointEvery,
    sealKey: pki.sealKey,
    onRecord: (record) => {
      ledger.observe(record);
      index?.get()?.observe(record);
      watch.observe(record);
      snapshots?.recordAppended();
    },
    ...(config.witness === undefined ? {} : { witness: new DirectoryCheckpointWitness(config.witness.dir) }),
    ...(mode === "accept-tail" ? { acceptUnsealedTail: true } : {}),
    ...(snapshot === undefined
      ? {}
      : {
          resumeFrom: snapshot.point,
          onResume: () => {
            resume.used = true;
            ledger.restore(snapshot.state, snapshot.items);
            index?.get()?.resumeAt(snapshot.state);
          },
        }),
  };
  let audit: AuditLog;
  try {
    audit =
      shared === undefined
        ? await openFileAuditLog({
            dir: join(options.dir, "audit"),
            ...auditOptions,
            blockingWrites: options.blockingAuditWrites ?? false,
          })
        : await openAuditLog(await shared.openAuditSink(), auditOptions);
  } catch (error) {
    index?.close();
    throw error;
  }
  const itemIndex = index?.get();
  let boundPolicyOf: BoundPolicy | undefined;
  try {
    await watch.goLive(audit);
    if (itemIndex !== undefined) await catchUpIndex(itemIndex, audit, ledger, logger);
    const policy = await AccessPolicyStore.open(shared?.policyVersions ?? join(options.dir, "policy"), {
      clock,
      logger,
    });
    const revocations =
      shared === undefined
        ? new FileRevocationList(options.dir, pki, clock)
        : new SharedRevocationList(shared, pki, clock);
    const authenticated = new WeakSet<AuthenticatedPrincipal>();
    const boundPolicy =
      shared === undefined
        ? new BoundPolicy(ledger, policy, false, join(options.dir, "policy"))
        : new BoundPolicy(ledger, policy, true);
    boundPolicyOf = boundPolicy;
    // A principal stays valid only while the log has not revoked its certificate.
    const isCurrent = (p: AuthenticatedPrincipal) =>
      authenticated.has(p) && ledger.identities.get(p.serialNumber)?.revoked !== true;
    const guard = new Guard(audit, clock, () => boundPolicy.current(), isCurrent);
    const ctx: VaultContext = {
      dir: options.dir,
      config,
      clock,
      logger,
      store,
      ledger,
      index: itemIndex,
      guard,
      policy,
      boundPolicy,
      locks: new KeyedLocks(),
      revocations,
      pki,
      signer,
      hostname: hostname(),
      sharedLog: shared !== undefined,
    };
    if (mode !== "init") {
      await assertLatestCheckpointSigned(ctx, audit);
      assertLogIsThisVault(ctx);
      // Replicas: versions another replica is writing right now may follow the stated one (never used).
      if (shared === undefined) assertPolicyBound(ctx);
      else await boundPolicy.current();
    }
    const crl = mode === "init" ? new Set<string>() : await publishRevocations(ctx);
    if (mode === "open") await renewExpiringSigner(ctx);
    // from here on, records are appended (not replayed): a snapshot may fall due
    snapshots = new LedgerSnapshots(ctx, audit, {
      every: mode === "init" ? 0 : (options.ledgerSnapshotEvery ?? LEDGER_SNAPSHOT_EVERY),
      records: resume.used ? (snapshot?.point.treeSize ?? 0) : 0,
    });
    return { ctx, audit, authenticated, revokedOnCrl: crl, ledgerSnapshots: snapshots };
  } catch (error) {
    boundPolicyOf?.close();
    index?.close();
    await audit.close().catch(() => {});
    throw error;
  }
}

/**
 * Forwards live records to the caller's observer, never letting it throw into the audit append. The
 * replay at open is not forwarded, except the repairs the open itself appended (a torn write cut, a
 * crashed writer's tail signed): those are the records at or after the latest checkpoint once open.
 */
function watchRecords(observer: ((record: AuditRecord) => void) | undefined, logger: Logger) {
  const repairs: AuditRecord[] = [];
  let live = false;
  const forward = (record: AuditRecord) => {
    try {
      observer?.(record);
    } catch (error) {
      logger.error({ err: error, seq: record.seq }, "the onAuditRecord observer threw");
    }
  };
  return {
    observe(record: AuditRecord) {
      if (observer === undefined) return;
      if (live) forward(record);
      else if (record.actor === RECOVERY_ACTOR && repairs.push(record) > 64) repairs.shift();
    },
    async goLive(audit: AuditLog) {
      live = true;
      const signed = (await audit.latestCheckpoint())?.checkpoint.treeSize ?? 0;
      for (const record of repairs.splice(0)) if (record.seq >= signed) forward(record);
    },
  };
}

/**
 * The log is trusted at open because its newest checkpoint matches it; that checkpoint must then be
 * signed by a vault signer under this vault's CA, or a folder writer could rewrite the log and its
 * checkpoint files together without any key.
 */
async function assertLatestCheckpointSigned(ctx: VaultContext, audit: AuditLog): Promise<void> {
  const latest = await audit.latestCheckpoint();
  if (latest === undefined) {
    throw new CustodyError("ERR_AUDIT_CHECKPOINT_INVALID", "the vault's audit log has no signed checkpoint");
  }
  verifyCheckpointSignature(latest, { trustAnchors: [ctx.pki.caCertificatePem], clock: ctx.clock });
}

function assertLogIsThisVault(ctx: VaultContext): void {
  const { ledger, config } = ctx;
  if (ledger.vaultId !== config.vaultId) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      ledger.vaultId === undefined
        ? "the audit log does not record this vault's creation"
        : `vault.json names vault ${config.vaultId} but the audit log is vault ${ledger.vaultId}'s`,
    );
  }
  if (canonicalJson(ledger.witness ?? null) !== canonicalJson(config.witness ?? null)) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      "vault.json's checkpoint witness is not the one the audit log records",
    );
  }
  if (canonicalJson(ledger.settings ?? null) !== canonicalJson(vaultSettings(config))) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      "vault.json's settings (retention, store, checkpoints) are not the ones the audit log records",
    );
  }
}

// A revocation is effective once logged; a crash before the CRL was re-signed is finished here.
async function publishRevocations(ctx: VaultContext): Promise<Set<string>> {
  const onCrl = await ctx.revocations.revokedSerials();
  const missing = await ctx.revocations.publish(ctx.ledger);
  if (missing.length > 0)
    ctx.logger.warn({ serials: missing }, "re-published revocations missing from the CRL");
  for (const serial of missing) onCrl.add(serial);
  return onCrl;
}

/** The parts of vault.json bound to the log at init: editing them on disk is refused at open. */
export function vaultSettings(config: VaultConfig) {
  return {
    store: config.store,
    defaultRetentionDays: config.defaultRetentionDays,
    checkpointEvery: config.checkpointEvery,
  };
}

async function openConfiguredStore(dir: string, config: VaultConfig): Promise<EvidenceStore> {
  switch (config.store.kind) {
    case "fs":
      return FsEvidenceStore.open(fsStoreRoot(dir, config.store.dir));
    case "azure":
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        "this vault stores evidence in Azure: open it with an AzureBlobEvidenceStore passed as `store`",
      );
  }
}
