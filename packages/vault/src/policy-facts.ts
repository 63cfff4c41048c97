import type { ApprovableChange, PendingApproval, PolicyChangeResult, WriteOptions } from "@custody/access";
import { CustodyError, isCustodyError } from "@custody/core";
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
  write: (options: WriteOptions) => Promise<R>,
): Promise<R> {
  return ctx.boundPolicy.change(async () => {
    const result = await writeOnStatedHead(ctx, write);
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

/** Conflicts in a row a change retries (each after reading the log again) before it reports ERR_CONFLICT. */
const CONFLICT_RETRIES = 5;

/**
 * Each version is written on top of the version the log states, never on one another replica wrote but
 * has not stated yet. A version taken by another writer first is ERR_CONFLICT (never a lost update): the
 * change is retried on the new head once the log states it, and reported when that keeps failing.
 */
async function writeOnStatedHead<R>(
  ctx: VaultContext,
  write: (options: WriteOptions) => Promise<R>,
): Promise<R> {
  for (let attempt = 0; ; attempt += 1) {
    const head = ctx.ledger.policyHead;
    try {
      return await write(head === undefined ? {} : { expectedVersion: head.version });
    } catch (error) {
      if (!isCustodyError(error, "ERR_CONFLICT") || attempt >= CONFLICT_RETRIES) throw error;
      await ctx.guard.catchUp();
    }
  }
}

/** Opens an approval request for the second custodian, recorded like every other policy version. */
export async function proposeChange(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  change: ApprovableChange,
): Promise<PendingApproval> {
  const result = await commitPolicy(ctx, principal, (options) =>
    ctx.policy.propose(change, principal, options),
  );
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
