import type { AuditRecord } from "@custody/audit";
import { CustodyError } from "@custody/core";
import { DEVICE_FACT, DeviceLedger, isDeviceFact } from "./device-facts.js";
import { FACT, type FactAction, type FactDetails, factSchemas, ITEM_FACTS } from "./facts.js";
import { LedgerItems, type StoredItems } from "./ledger-items.js";
import { isLibraryFact, LibraryLedger } from "./library-facts.js";
import { isActionRecord, type LoggedAction, QueuedActionLedger } from "./queued-actions.js";
import { isRemediationFact, RemediationLedger } from "./remediation-facts.js";
import { isResponseFact, ResponseLedger } from "./response-facts.js";

/** What the log says of one item. The full record travels with the bytes and must hash to recordSha256. */
export interface LedgerItem {
  readonly caseId: string;
  readonly id: string;
  readonly recordSha256: string;
  readonly deviceId: string | undefined;
  readonly ingestedSeq: number;
  legalHold: boolean;
  retainUntil: string | undefined;
  purged: boolean;
}

/** A login certificate the vault issued through its guarded path. */
export interface LedgerIdentity {
  readonly name: string;
  readonly serialNumber: string;
  readonly fingerprintSha256: string;
  readonly kind: "person" | "device";
  /** False until the second custodian approves an identity for a custodian's name. */
  active: boolean;
  revoked: boolean;
  revokedAt?: string;
  readonly requestId: string | undefined;
}

/**
 * The vault's state as the signed audit log states it, rebuilt record by record at open (in the same
 * pass that checks the chain) and kept current as facts are appended. Nothing here is read from any
 * other file.
 */
export class Ledger {
  vaultId: string | undefined;
  witness: { kind: "dir"; dir: string } | undefined;
  settings: Record<string, unknown> | undefined;
  policyHead: { version: number; hash: string } | undefined;
  /** Every item, by case and by content address (a snapshot's are read as they are asked for). */
  readonly items = new LedgerItems();
  readonly identities = new Map<string, LedgerIdentity>();
  /** Enrollment tokens, devices and the live-response setting. */
  readonly live = new DeviceLedger();
  /** The live-response library (names, versions, signatures) and the unsigned-scripts setting. */
  readonly library = new LibraryLedger();
  /** The hash lists and isolated devices (live-response actions). */
  readonly response = new ResponseLedger();
  /** Remediations and their undo (live-response actions). */
  readonly remediations = new RemediationLedger();
  /** Live-response actions queued and not yet ended (decisions and outcomes, not facts). */
  readonly actions = new QueuedActionLedger();
  /** Fingerprint of the vault signer the log installed last. */
  currentSigner: string | undefined;
  /** The seq of the newest revocation fact (-1: none); a shared CRL is numbered by it. */
  lastRevocationSeq = -1;
  /** The TSAs the log configured, in order: checkpoints and reports carry their tokens. */
  readonly timestampAuthorities: FactDetails<typeof FACT.tsaAdded>[] = [];
  /** Records seen, so a caller can tell an empty log from a vault. */
  records = 0;
  /** The records a snapshot held when this ledger was restored from one (the log's were not read). */
  restoredAt: number | undefined;
  /** Where the item facts stand: the newest one's seq and hash (the item index must agree). */
  lastItemFact: { seq: number; hash: string } | undefined;
  /**
   * Every allowed fact other than an item's, by seq in order: what a snapshot keeps of the log besides
   * the items, replayed through the same code when the snapshot is read. A device's connection is kept
   * only until its next one (each sets the same two fields, and agents connect all day).
   */
  readonly #otherFacts = new Map<number, AuditRecord>();
  readonly #lastConnection = new Map<string, number>();
  readonly #sealKeySha256: string | undefined;

  /** `sealKeySha256`: the digest of the seal key this vault was opened with (checked against vault.init). */
  constructor(sealKeySha256?: string) {
    this.#sealKeySha256 = sealKeySha256;
  }

  observe(record: AuditRecord): void {
    this.records += 1;
    if (isActionRecord(record.action)) this.actions.apply(record);
    if (record.outcome !== "allow" || !isFact(record.action)) return;
    if (ITEM_FACTS.has(record.action)) this.lastItemFact = { seq: record.seq, hash: record.hash };
    this.#applyFact(record, record.action);
    if (!ITEM_FACTS.has(record.action)) this.#keep(record);
  }

  #keep(record: AuditRecord): void {
    this.#otherFacts.set(record.seq, record);
    if (record.action !== DEVICE_FACT.connected) return;
    const deviceId = String(record.details.deviceId);
    const previous = this.#lastConnection.get(deviceId);
    if (previous !== undefined) this.#otherFacts.delete(previous);
    this.#lastConnection.set(deviceId, record.seq);
  }

  /** What a snapshot needs to rebuild this ledger without the log's records before `records`. */
  snapshotState(): LedgerSnapshotState {
    return {
      records: this.records,
      lastItemFact: this.lastItemFact,
      otherFacts: [...this.#otherFacts.values()],
      openActions: this.actions.open(),
    };
  }

  /** A new ledger's state from a snapshot: its facts replayed, its items read as they are asked for. */
  restore(state: LedgerSnapshotState, items: StoredItems): void {
    if (this.records !== 0) throw new CustodyError("ERR_INTERNAL", "a ledger is restored before any record");
    this.items.attach(items);
    for (const record of state.otherFacts) {
      if (!isFact(record.action) || ITEM_FACTS.has(record.action))
        throw malformed(record, "is not a fact a snapshot keeps");
      this.#applyFact(record, record.action);
      this.#keep(record);
    }
    this.actions.restore(state.openActions);
    this.records = state.records;
    this.lastItemFact = state.lastItemFact;
    this.restoredAt = state.records;
  }

  #applyFact(record: AuditRecord, action: FactAction): void {
    if (isDeviceFact(record.action)) this.#applyDevice(record);
    else if (isLibraryFact(record.action)) this.library.apply(record);
    else if (isResponseFact(record.action)) this.response.apply(record);
    else if (isRemediationFact(record.action)) this.remediations.apply(record);
    else this.#apply(record, action);
  }

  /** Items of one content address, across the cases that hold it. */
  itemsWithId(prefix: string): LedgerItem[] {
    return this.items.withId(prefix);
  }

  /** Every item of one case, purged ones included, as `items` holds them. */
  itemsOfCase(caseId: string): Iterable<LedgerItem> {
    return this.items.ofCase(caseId);
  }

  item(caseId: string, id: string): LedgerItem | undefined {
    return this.items.get(caseId, id);
  }

  identitiesOf(name: string): LedgerIdentity[] {
    return [...this.identities.values()].filter((identity) => identity.name === name);
  }

  #apply(record: AuditRecord, action: FactAction): void {
    switch (action) {
      case FACT.vaultInit: {
        const facts = details(record, action);
        this.#assertSealKey(record, facts.sealKeySha256);
        this.vaultId = facts.vaultId;
        this.witness = facts.witness;
        this.settings = facts.settings;
        return;
      }
      case FACT.ingested:
        this.#ingested(record, details(record, action));
        return;
      case FACT.holdSet:
        this.#itemOf(record).legalHold = true;
        return;
      case FACT.holdReleased:
        this.#itemOf(record).legalHold = false;
        return;
      case FACT.retentionExtended:
        this.#itemOf(record).retainUntil = details(record, action).retainUntil;
        return;
      case FACT.purged:
        this.#itemOf(record).purged = true;
        return;
      case FACT.policyChanged:
        this.policyHead = details(record, action);
        return;
      case FACT.identityIssued:
        this.#issued(details(record, action));
        return;
      case FACT.identityActivated:
        this.#identity(record, details(record, action).serialNumber).active = true;
        return;
      case FACT.identityRevoked:
        for (const serial of details(record, action).serialNumbers) {
          const identity = this.#identity(record, serial);
          identity.revoked = true;
          identity.revokedAt = record.time;
        }
        this.lastRevocationSeq = record.seq;
        return;
      case FACT.signerInstalled:
        this.currentSigner = details(record, action).fingerprintSha256;
        return;
      case FACT.tailAccepted:
        return;
      case FACT.tsaAdded:
        this.timestampAuthorities.push(details(record, action));
        return;
    }
  }

  /** A device's certificate is an identity like any other: it logs in, and is revoked, the same way. */
  #applyDevice(record: AuditRecord): void {
    const { issued, revoked } = this.live.apply(record);
    if (issued !== undefined) this.#issued({ ...issued, kind: "device", active: true });
    for (const serial of revoked ?? []) {
      const identity = this.#identity(record, serial);
      identity.revoked = true;
      identity.revokedAt = record.time;
    }
    if (revoked !== undefined) this.lastRevocationSeq = record.seq;
  }

  /** The seal key the vault opened with must be the one it was created with, before any seal is trusted. */
  #assertSealKey(record: AuditRecord, recorded: string | undefined): void {
    if (this.#sealKeySha256 === undefined || recorded === this.#sealKeySha256) return;
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the audit seal key on disk is not the one this vault was created with (record ${record.seq})`,
    );
  }

  #ingested(record: AuditRecord, facts: FactDetails<typeof FACT.ingested>): void {
    const { caseId, id, deviceId } = itemFacts(record, facts.record);
    const previous = this.items.get(caseId, id);
    if (previous !== undefined && !previous.purged) throw malformed(record, "ingests an item that exists");
    const item: LedgerItem = {
      caseId,
      id,
      deviceId,
      recordSha256: facts.recordSha256,
      ingestedSeq: record.seq,
      legalHold: facts.legalHold,
      retainUntil: facts.retainUntil,
      purged: false,
    };
    this.items.put(item);
  }

  #issued(facts: FactDetails<typeof FACT.identityIssued>): void {
    this.identities.set(facts.serialNumber, {
      name: facts.name,
      serialNumber: facts.serialNumber,
      fingerprintSha256: facts.fingerprintSha256,
      kind: facts.kind,
      active: facts.active,
      revoked: false,
      requestId: facts.requestId,
    });
  }

  #itemOf(record: AuditRecord): LedgerItem {
    const key = record.target.slice("item:".length);
    const at = key.lastIndexOf("/");
    const item = at < 0 ? undefined : this.items.getForChange(key.slice(0, at), key.slice(at + 1));
    if (item === undefined || item.purged) throw malformed(record, "names an item the log never ingested");
    return item;
  }

  #identity(record: AuditRecord, serial: string): LedgerIdentity {
    const identity = this.identities.get(serial);
    if (identity === undefined) throw malformed(record, `names identity ${serial} the log never issued`);
    return identity;
  }
}

const FACT_ACTIONS: ReadonlySet<string> = new Set(Object.values(FACT));

/** A ledger's state beside its items, as a snapshot stores it. */
export interface LedgerSnapshotState {
  records: number;
  lastItemFact: { seq: number; hash: string } | undefined;
  otherFacts: AuditRecord[];
  openActions: LoggedAction[];
}

function isFact(action: string): action is FactAction {
  return FACT_ACTIONS.has(action);
}

function details<A extends FactAction>(record: AuditRecord, action: A): FactDetails<A> {
  const parsed = factSchemas[action].safeParse(record.details);
  if (!parsed.success) throw malformed(record, "has malformed details");
  return parsed.data as FactDetails<A>;
}

function itemFacts(record: AuditRecord, item: Record<string, unknown>) {
  const { caseId, id } = item;
  const pkg = item.package as { deviceId?: unknown } | undefined;
  if (typeof caseId !== "string" || typeof id !== "string" || record.target !== `item:${caseId}/${id}`) {
    throw malformed(record, "does not match its target");
  }
  return { caseId, id, deviceId: typeof pkg?.deviceId === "string" ? pkg.deviceId : undefined };
}

function malformed(record: AuditRecord, what: string): CustodyError {
  return new CustodyError(
    "ERR_AUDIT_RECORD_INVALID",
    `audit record ${record.seq} (${record.action}) ${what}`,
    {
      details: { seq: record.seq, action: record.action },
    },
  );
}
