import type { AuditRecord, InclusionProofBundle } from "@custody/audit";
import type { AuthenticatedPrincipal } from "./identity.js";
import { type CustodyReport, type SignedCustodyReport, signCustodyReport } from "./report.js";
import type { Vault } from "./vault.js";

/**
 * Builds and signs an item's custody report. The request itself is recorded first, then a checkpoint
 * is signed so that every event, this request included, has an inclusion proof against it.
 */
export async function buildCustodyReport(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
): Promise<SignedCustodyReport> {
  const item = await vault.findItem(id);
  return vault.run(vault.itemRequest(principal, "report.read", item), async () => {
    const target = `item:${item.id}`;
    const events: AuditRecord[] = [];
    for await (const record of vault.audit.read()) if (record.target === target) events.push(record);
    const checkpoint = await vault.audit.checkpoint();
    const proofs: InclusionProofBundle[] = await vault.audit.proveInclusions(
      events.map((e) => e.seq),
      checkpoint,
    );
    const report: CustodyReport = {
      format: "custody.report/v1",
      generatedAt: vault.clock.now().toISOString(),
      generatedBy: principal.id,
      vaultId: vault.config.vaultId,
      item,
      events,
      proofs,
    };
    return signCustodyReport(report, vault.pki.signer);
  });
}
