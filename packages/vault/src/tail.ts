import type { AuditLog } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";

export interface TailAcceptance {
  fromSeq: number;
  count: number;
}

/**
 * A custodian accepts the records found after the last checkpoint without a valid seal. The decision is
 * authorized and recorded first; only then may a checkpoint sign the tail, so a refused acceptance
 * (or a crash before it) leaves the tail refused at the next open.
 */
export async function acceptUnsealedTail(
  ctx: VaultContext,
  audit: AuditLog,
  principal: AuthenticatedPrincipal,
  reason: string,
): Promise<TailAcceptance> {
  const tail = audit.unsealedTail;
  if (tail === undefined) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the audit log has no unsealed tail to accept");
  }
  const { fromSeq, count } = tail;
  const request = {
    principal,
    action: "audit.accept",
    resource: { kind: "audit" },
    target: "audit:tail",
    details: { fromSeq, count },
  } as const;
  return ctx.guard.run(request, async () => {
    audit.acceptUnsealedTail();
    const why = `accepted ${count} unsealed record(s) from ${fromSeq}: ${reason}`.slice(0, 2000);
    await ctx.guard.fact(principal.id, FACT.tailAccepted, `vault:${ctx.config.vaultId}`, why, {
      fromSeq,
      count,
    });
    await ctx.guard.checkpoint();
    return { fromSeq, count };
  });
}
