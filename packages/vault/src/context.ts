import type { AccessPolicyStore } from "@custody/access";
import type { Clock, Logger } from "@custody/core";
import type { EvidenceStore } from "@custody/store";
import type { BoundPolicy } from "./bound-policy.js";
import type { VaultConfig } from "./config.js";
import type { Guard } from "./guard.js";
import type { ItemIndex } from "./item-index.js";
import type { Ledger } from "./ledger.js";
import type { KeyedLocks } from "./locks.js";
import type { VaultPki } from "./pki.js";
import type { RevocationList } from "./revocations.js";
import type { VaultSigner } from "./signer.js";

/**
 * What an operation module gets: the parts of one open vault, never the `Vault` facade. Audit records
 * are written through `guard` only; the ledger changes only when the guard appends a fact.
 */
export interface VaultContext {
  readonly dir: string;
  readonly config: VaultConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: EvidenceStore;
  readonly ledger: Ledger;
  /** Derived from the log (item-index.ts): listings by case, device, label, time. Local vaults only. */
  readonly index: ItemIndex | undefined;
  readonly guard: Guard;
  readonly policy: AccessPolicyStore;
  /** The policy version the log states; policy changes run through `boundPolicy.change`. */
  readonly boundPolicy: BoundPolicy;
  /** Check-then-act sections (an item's protection, the access state) hold these (locks.ts). */
  readonly locks: KeyedLocks;
  /** The CRL (a file, or numbered lists in the shared state); the log decides, the list publishes. */
  readonly revocations: RevocationList;
  readonly pki: VaultPki;
  readonly signer: VaultSigner;
  readonly hostname: string;
  /** Replicas share this vault's log (Azure); otherwise one process at a time holds it (its file lock). */
  readonly sharedLog: boolean;
}

export const TOOL = "custody 0.1.0";
