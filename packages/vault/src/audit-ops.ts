import type { AuditRecord, AuditVerifyReport, InclusionProofBundle, SignedCheckpoint } from "@custody/audit";
import type { AuthenticatedPrincipal } from "./identity.js";
import type { Vault } from "./vault.js";

const auditRequest = (
  principal: AuthenticatedPrincipal,
  action: "audit.read" | "audit.checkpoint",
  target: string,
) => ({ principal, action, resource: { kind: "audit" }, target }) as const;

/** Verifies the vault's whole audit log against its signed checkpoints and the vault CA. */
export async function verifyVaultAudit(
  vault: Vault,
  principal: AuthenticatedPrincipal,
): Promise<AuditVerifyReport> {
  // The open log verifies what is durable, never an append still in flight.
  return vault.run(auditRequest(principal, "audit.read", "audit:verify"), async () =>
    vault.audit.verify({ trust: { trustAnchors: vault.trustAnchors, crls: [await vault.crl()] } }),
  );
}

export async function showAudit(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  since = 0,
): Promise<AuditRecord[]> {
  return vault.run(auditRequest(principal, "audit.read", "audit:show"), async () => {
    const records: AuditRecord[] = [];
    for await (const record of vault.audit.read({ since })) records.push(record);
    return records;
  });
}

/** An inclusion proof for record `seq` against a fresh signed checkpoint, checkable offline. */
export async function proveAuditRecord(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  seq: number,
): Promise<InclusionProofBundle> {
  return vault.run(auditRequest(principal, "audit.read", `audit:${seq}`), async () => {
    const checkpoint = await vault.audit.checkpoint();
    return vault.audit.proveInclusion(seq, checkpoint);
  });
}

export async function checkpointAudit(
  vault: Vault,
  principal: AuthenticatedPrincipal,
): Promise<SignedCheckpoint> {
  return vault.run(auditRequest(principal, "audit.checkpoint", "audit:checkpoint"), () =>
    vault.audit.checkpoint(),
  );
}
