import type { ApprovableChange, PendingApproval, PolicyChangeResult } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";

/**
 * Writes a policy version and binds it to the log at once. The version file comes first: a crash between
 * the two leaves a version the log does not know, which the next open refuses (never a change that took
 * effect unrecorded).
 */
export async function commitPolicy<R extends PolicyChangeResult>(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  write: () => Promise<R>,
): Promise<R> {
  return ctx.boundPolicy.change(async () => {
    const result = await write();
    await ctx.guard.fact(
      principal.id,
      FACT.policyChanged,
      "policy",
      `access policy version ${result.version} (${result.event.kind})`,
      { version: result.version, hash: result.hash },
    );
    return result;
  });
}

/** Opens an approval request for the second custodian, recorded like every other policy version. */
export async function proposeChange(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  change: ApprovableChange,
): Promise<PendingApproval> {
  const result = await commitPolicy(ctx, principal, () => ctx.policy.propose(change, principal));
  if (result.request === undefined) throw new CustodyError("ERR_INTERNAL", "propose returned no request");
  return result.request;
}

/** Refuses to act on a policy the signed log does not state (a version added or rewritten on disk). */
export function assertPolicyBound(ctx: Pick<VaultContext, "ledger" | "policy">): void {
  const head = ctx.ledger.policyHead;
  const { version, hash } = ctx.policy;
  if (head === undefined || head.version !== version || head.hash !== hash) {
    throw new CustodyError(
      "ERR_POLICY_INVALID",
      head === undefined
        ? "the audit log states no access policy"
        : `the access policy on disk (version ${version}, ${hash.slice(0, 12)}) is not the one the signed audit log states (version ${head.version}, ${head.hash.slice(0, 12)}): it was changed outside the vault`,
      { details: { onDisk: { version, hash }, inLog: head ?? null } },
    );
  }
}
