import { type Clock, CustodyError } from "@custody/core";
import { createCrl, readRevokedSerials } from "@custody/manifest";
import type { Ledger } from "./ledger.js";
import { PKI_FILES, readPkiFile, revokedOnCrl, revokeOnCrl, type VaultPki } from "./pki.js";
import type { VaultSharedState } from "./shared-state.js";

/**
 * The vault's CRL, for TLS peers and package verification. The log decides who is revoked; the list only
 * publishes it, so `publish` makes it state every revocation the ledger states.
 */
export interface RevocationList {
  read(): Promise<string>;
  /** Serials the current list revokes (ERR_MALFORMED_CRL when it is not the CA's). */
  revokedSerials(): Promise<Set<string>>;
  /** Makes the list state every revocation the ledger states; returns the serials it had to add. */
  publish(ledger: Ledger): Promise<string[]>;
}

function revokedIn(ledger: Ledger, clock: Clock) {
  return [...ledger.identities.values()]
    .filter((identity) => identity.revoked)
    .map((identity) => ({
      serialNumber: identity.serialNumber,
      revokedAt: new Date(identity.revokedAt ?? clock.now()),
    }));
}

/** `pki/crl.pem` in the vault folder (one process). */
export class FileRevocationList implements RevocationList {
  readonly dir: string;
  readonly pki: VaultPki;
  readonly clock: Clock;

  constructor(dir: string, pki: VaultPki, clock: Clock) {
    this.dir = dir;
    this.pki = pki;
    this.clock = clock;
  }

  read(): Promise<string> {
    return readPkiFile(this.dir, PKI_FILES.crl);
  }

  revokedSerials(): Promise<Set<string>> {
    return revokedOnCrl(this.dir, this.pki);
  }

  async publish(ledger: Ledger): Promise<string[]> {
    const listed = await this.revokedSerials();
    const missing = revokedIn(ledger, this.clock).filter((entry) => !listed.has(entry.serialNumber));
    await revokeOnCrl(this.dir, this.pki, missing, this.clock);
    return missing.map((entry) => entry.serialNumber);
  }
}

const CRL_PREFIX = "pki/crl/";
/** `<n>-<time>.pem`: sorted by name, the newest list of the newest revocation comes last. */
const crlName = (seq: number, at: Date) =>
  `${CRL_PREFIX}${String(seq + 1).padStart(12, "0")}-${at.toISOString().replaceAll(/[-:.]/g, "")}.pem`;

/**
 * Numbered CRLs in the shared state, `pki/crl/<n>-<time>.pem`, each made whole from the ledger after the
 * revocation record n-1 and stored create-only: replicas never overwrite each other's list, the highest
 * number states every revocation up to it, and a list signed again later (same n) sorts after it.
 */
export class SharedRevocationList implements RevocationList {
  readonly shared: VaultSharedState;
  readonly pki: VaultPki;
  readonly clock: Clock;

  constructor(shared: VaultSharedState, pki: VaultPki, clock: Clock) {
    this.shared = shared;
    this.pki = pki;
    this.clock = clock;
  }

  async read(): Promise<string> {
    const latest = (await this.shared.listDocuments(CRL_PREFIX)).at(-1);
    const text = latest === undefined ? undefined : await this.shared.readDocument(latest);
    if (text === undefined) {
      throw new CustodyError("ERR_MALFORMED_CRL", `${this.shared.description} holds no revocation list`);
    }
    return text;
  }

  async revokedSerials(): Promise<Set<string>> {
    return readRevokedSerials(await this.read(), this.pki.caCertificatePem);
  }

  async publish(ledger: Ledger): Promise<string[]> {
    const listed = await this.revokedSerials();
    const revoked = revokedIn(ledger, this.clock);
    const missing = revoked.filter((entry) => !listed.has(entry.serialNumber));
    if (missing.length === 0) return [];
    const now = this.clock.now();
    await this.shared.createDocument(
      crlName(ledger.lastRevocationSeq, now),
      createCrl(this.pki.ca, revoked, { clock: this.clock }),
    );
    return missing.map((entry) => entry.serialNumber);
  }

  /** The first list of a new vault (nobody revoked). */
  async create(): Promise<void> {
    const now = this.clock.now();
    await this.shared.createDocument(crlName(-1, now), createCrl(this.pki.ca, [], { clock: this.clock }));
  }
}
