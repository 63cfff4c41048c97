import { CustodyError } from "@custody/core";
import type { EvidenceStore } from "@custody/store";
import type { VaultConfig } from "./config.js";
import type { VaultPki } from "./pki.js";
import { sharedStateOf, type VaultSharedState } from "./shared-state.js";

export const SHARED_CA = "pki/ca.pem";

/** Whether vault.json keeps the shared state with the evidence (an Azure vault made for replicas). */
export function keepsSharedState(config: VaultConfig): boolean {
  return config.store.kind === "azure" && config.store.shared === true;
}

/** The shared state a replicated vault needs: given by the caller, or offered by its Azure store. */
export function sharedStateFor(
  config: VaultConfig,
  given: VaultSharedState | undefined,
  store: EvidenceStore,
): VaultSharedState | undefined {
  if (!keepsSharedState(config)) return undefined;
  const shared = given ?? sharedStateOf(store);
  if (shared === undefined) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      "this vault keeps its audit log and policy in Azure: open it with the AzureBlobEvidenceStore its vault.json names",
    );
  }
  return shared;
}

/**
 * The CA certificate in the shared state must be this replica's own: a certificate swapped in the
 * container (to make the replicas accept another CA's identities) is refused before anything is read.
 */
export async function assertSharedCa(shared: VaultSharedState, pki: VaultPki): Promise<void> {
  const stored = await shared.readDocument(SHARED_CA);
  if (stored?.trim() !== pki.caCertificatePem.trim()) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      stored === undefined
        ? `${shared.description} holds no vault CA certificate`
        : `the CA certificate in ${shared.description} is not this vault's (pki/ca.pem)`,
    );
  }
}
