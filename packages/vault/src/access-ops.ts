import type { Grant, PendingApproval, PolicyChange, Scope } from "@custody/access";
import { changeResource, requiredAction } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { ApprovalOutcome } from "./approvals.js";
import { registerIdentity } from "./identities.js";
import type { AuthenticatedPrincipal } from "./identity.js";
import { issueIdentity } from "./pki.js";
import type { Vault } from "./vault.js";

export interface GrantRequest {
  name: string;
  role: string;
  scope: Scope;
  expiresAt?: Date;
}

/** Grants or revokes a role; a change that needs the second custodian becomes a pending request. */
export async function changeGrant(
  vault: Vault,
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
  await vault.policy.refresh();
  const pending = vault.policy.requiresApproval(change);
  const request = {
    principal,
    action: requiredAction(change),
    resource: changeResource(change),
    target: `principal:${grant.name}`,
    details: {
      role: grant.role,
      scope: grant.scope,
      change: kind,
      approval: pending ? "proposed" : "none",
      policyVersion: vault.policy.version,
      policyHash: vault.policy.hash,
    },
  };
  return vault.run(request, async () => {
    if (pending) {
      const result = await vault.policy.propose(change, principal);
      if (result.request === undefined) throw new CustodyError("ERR_INTERNAL", "propose returned no request");
      return { status: "pending", request: result.request };
    }
    const result = await vault.policy.apply(change, principal);
    return {
      status: "done",
      message: `${kind} of role ${grant.role} over ${grant.scope} for ${grant.name} applied (policy version ${result.version})`,
    };
  });
}

export interface AccessListing {
  version: number;
  hash: string;
  custodians: string[];
  grants: Grant[];
  pendingApprovals: PendingApproval[];
}

export async function listAccess(vault: Vault, principal: AuthenticatedPrincipal): Promise<AccessListing> {
  const request = {
    principal,
    action: "access.read",
    resource: { kind: "policy" },
    target: "policy",
  } as const;
  return vault.run(request, async () => {
    const policy = await vault.policy.refresh();
    return {
      version: vault.policy.version,
      hash: vault.policy.hash,
      custodians: vault.policy.custodians(),
      grants: policy.grants,
      pendingApprovals: policy.pendingApprovals,
    };
  });
}

/** Issues a client-certificate identity for `name` (certificate + private key, PEM). */
export async function issueIdentityFor(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  name: string,
): Promise<string> {
  const request = {
    principal,
    action: "identity.issue",
    resource: { kind: "vault" },
    target: `principal:${name}`,
  } as const;
  return vault.run(request, async () => {
    const pem = await issueIdentity(vault.pki, name, { clock: vault.clock });
    const issued = await registerIdentity(vault.dir, pem, vault.clock);
    await vault.audit.append({
      actor: principal.id,
      action: "identity.issued",
      target: `principal:${name}`,
      outcome: "allow",
      reason: `client certificate ${issued.serialNumber} issued to ${name}`,
      details: { serialNumber: issued.serialNumber, fingerprintSha256: issued.fingerprintSha256 },
    });
    return pem;
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
export async function whoAmI(vault: Vault, principal: AuthenticatedPrincipal): Promise<WhoAmI> {
  vault.assertAuthenticated(principal);
  const policy = await vault.policy.refresh();
  await vault.audit.append({
    actor: principal.id,
    action: "access.whoami",
    target: `principal:${principal.id}`,
    outcome: "allow",
    reason: "a principal may always read its own grants",
    details: { fingerprint: principal.fingerprintSha256 },
  });
  return { ...principal, grants: policy.grants.filter((g) => g.principal === principal.id) };
}
