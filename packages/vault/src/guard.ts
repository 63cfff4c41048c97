import { type Action, authorize, type Resource } from "@custody/access";
import type { AuditLog } from "@custody/audit";
import { type Clock, CustodyError, isCustodyError, type JsonValue } from "@custody/core";
import type { AuthenticatedPrincipal } from "./identity.js";

/** What every vault operation needs to be authorized and recorded. */
export interface GuardContext {
  audit: AuditLog;
  clock: Clock;
  currentPolicy(): Promise<Parameters<typeof authorize>[0]>;
  isAuthenticated(principal: AuthenticatedPrincipal): boolean;
}

export interface GuardedRequest {
  principal: AuthenticatedPrincipal;
  action: Action;
  resource: Resource;
  /** The audit record's target, e.g. `item:<sha256>` or `case:A`. */
  target: string;
  details?: Record<string, JsonValue>;
}

/**
 * The one way a vault operation runs: authorize, record the decision durably, then act. A denial is
 * recorded and changes nothing; a failure after the decision is recorded as `error`. If the audit log
 * cannot take the record, the operation does not happen.
 */
export async function guarded<T>(
  ctx: GuardContext,
  request: GuardedRequest,
  perform: () => Promise<T>,
): Promise<T> {
  const { principal, action, target } = request;
  if (!ctx.isAuthenticated(principal)) {
    throw new CustodyError("ERR_IDENTITY_INVALID", "the principal was not authenticated by this vault");
  }
  const decision = authorize(await ctx.currentPolicy(), principal, action, request.resource, {
    clock: ctx.clock,
  });
  const base = {
    actor: principal.id,
    action,
    target,
    details: { ...request.details, actorFingerprint: principal.fingerprintSha256 },
  };
  if (decision.outcome === "deny") {
    await ctx.audit.append({ ...base, outcome: "deny", reason: decision.reason });
    throw new CustodyError(
      "ERR_ACCESS_DENIED",
      `${principal.id} may not ${action} ${target}: ${decision.reason}`,
    );
  }
  const allowed = await ctx.audit.append({ ...base, outcome: "allow", reason: decision.reason });
  try {
    return await perform();
  } catch (error) {
    const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
    await ctx.audit.append({
      ...base,
      outcome: "error",
      reason: `${code}: ${(error as Error).message}`.slice(0, 2000),
      details: { ...base.details, decisionSeq: allowed.seq },
    });
    throw error;
  }
}
