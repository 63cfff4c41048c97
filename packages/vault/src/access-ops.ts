import type { Grant, PendingApproval, PolicyChange, Scope } from "@custody/access";
import { changeResource, requiredAction } from "@custody/access";
import type { ApprovalOutcome } from "./approvals.js";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { ACCESS_LOCK } from "./locks.js";
import { commitPolicy, proposeChange } from "./policy-facts.js";

export interface GrantRequest {
  name: string;
  role: string;
  scope: Scope;
  expiresAt?: Date;
}

/** Grants or revokes a role; a change that needs the second custodian becomes a pending request. */
export async function changeGrant(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  kind: "grant" | "revoke",
  grant: GrantRequest,
): Promise<ApprovalOutcome> {
  const change: PolicyChange =
    kind === "grant"
      ? {
          kind,
          principal: grant.name,
          role: grant.role,
          scope: grant.scope,
          ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt.toISOString() }),
        }
      : { kind, principal: grant.name, role: grant.role, scope: grant.scope };
  const request = {
    principal,
    action: requiredAction(change),
    resource: changeResource(change),
    target: `principal:${grant.name}`,
    details: { role: grant.role, scope: grant.scope, change: kind },
  };
  return ctx.guard.run(request, () =>
    ctx.locks.with([ACCESS_LOCK], async (): Promise<ApprovalOutcome> => {
      if (ctx.policy.requiresApproval(change)) {
        return { status: "pending", request: await proposeChange(ctx, principal, change) };
      }
      const result = await commitPolicy(ctx, principal, (options) =>
        ctx.policy.apply(change, principal, options),
      );
      return {
        status: "done",
        message: `${kind} of role ${grant.role} over ${grant.scope} for ${grant.name} applied (policy version ${result.version})`,
      };
    }),
  );
}

export interface AccessListing {
  version: number;
  hash: string;
  custodians: string[];
  grants: Grant[];
  pendingApprovals: PendingApproval[];
}

export async function listAccess(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<AccessListing> {
  const request = {
    principal,
    action: "access.read",
    resource: { kind: "policy" },
    target: "policy",
  } as const;
  return ctx.guard.run(request, async () => {
    const policy = await ctx.guard.policy();
    return {
      version: ctx.policy.version,
      hash: ctx.policy.hash,
      custodians: ctx.policy.custodians(),
      grants: policy.grants,
      pendingApprovals: policy.pendingApprovals,
    };
  });
}

export interface WhoAmI {
  id: string;
  kind: string;
  fingerprintSha256: string;
  serialNumber: string;
  grants: Grant[];
}

/** The caller's own identity and grants; reading them is recorded like everything else. */
export async function whoAmI(ctx: VaultContext, principal: AuthenticatedPrincipal): Promise<WhoAmI> {
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  await ctx.guard.note(
    principal,
    "access.read",
    `principal:${principal.id}`,
    "a principal may always read its own grants",
    {
      whoami: true,
    },
  );
  // Exactly the WhoAmI fields: a server request's context (request id, address) is not who one is.
  const { id, kind, fingerprintSha256, serialNumber } = principal;
  return {
    id,
    kind,
    fingerprintSha256,
    serialNumber,
    grants: policy.grants.filter((g) => g.principal === id),
  };
}
