import type { PolicyVersionStorage } from "@custody/access";
import type { AuditSink } from "@custody/audit";

/**
 * Where a vault served by several processes (replicas) keeps the state they share: the audit log and its
 * checkpoints, the policy versions, the CA certificate and the revocation lists, all in one place every
 * replica reaches (an Azure container: `@custody/azure`). Only the private keys stay in each replica's
 * vault folder. Nothing here is trusted: the log is checked and sealed, the policy must be the version
 * the log states, the CA certificate must be the replica's own, and a CRL must carry the CA's signature.
 */
export interface VaultSharedState {
  /** A name for messages (a container URL). */
  readonly description: string;
  /** The audit log's sink, appended to by every replica (a SharedAuditSink from @custody/audit). */
  openAuditSink(): Promise<AuditSink>;
  readonly policyVersions: PolicyVersionStorage;
  /** A small document (e.g. "pki/ca.pem"), or undefined when absent. */
  readDocument(name: string): Promise<string | undefined>;
  /** Stores a document create-only; false when it exists already. */
  createDocument(name: string, text: string): Promise<boolean>;
  /** Names of the documents under a prefix, ascending. */
  listDocuments(prefix: string): Promise<string[]>;
}

/** A store that can also hold the vault's shared state (the Azure container of a replicated vault). */
export interface SharedStateSource {
  vaultSharedState(): VaultSharedState;
}

export function sharedStateOf(store: unknown): VaultSharedState | undefined {
  const source = store as Partial<SharedStateSource> | null;
  return typeof source?.vaultSharedState === "function" ? source.vaultSharedState() : undefined;
}
