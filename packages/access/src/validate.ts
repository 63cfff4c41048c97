import { CustodyError } from "@custody/core";
import type { z } from "zod";
import { POLICY_ADMIN_ACTIONS } from "./actions.js";
import { CUSTODIAN_ROLE } from "./roles.js";
import { type AccessPolicy, accessPolicySchema, type Grant } from "./schema.js";
import { scopeKind } from "./scope.js";

/** The most principals that may hold the custodian role at once. */
export const MAX_CUSTODIANS = 2;

/**
 * Checks a policy document completely: its shape (zod, strict, so extra fields are refused) and the
 * rules a shape cannot express. Throws ERR_POLICY_INVALID, or ERR_CUSTODIAN_LIMIT for a third custodian.
 */
export function parsePolicy(value: unknown): AccessPolicy {
  const hidden = findProtoKey(value, "$");
  // zod drops an own "__proto__" key silently; a policy must mean exactly what its bytes say.
  if (hidden !== undefined) throw invalid(`${hidden} uses the reserved key __proto__`, { path: hidden });
  const result = accessPolicySchema.safeParse(value);
  if (!result.success) throw invalid(describeIssue(result.error), { issues: result.error.issues.length });
  checkRules(result.data);
  return result.data;
}

function checkRules(policy: AccessPolicy): void {
  checkVersionLink(policy);
  checkRoles(policy);
  checkGrants(policy);
  checkCustodians(policy);
  checkPending(policy);
}

function checkVersionLink(policy: AccessPolicy): void {
  const first = policy.version === 1;
  if (first !== (policy.previous === null)) {
    throw invalid("only version 1 has no previous version, and it must have none", {
      version: policy.version,
    });
  }
  if (first !== (policy.event.kind === "init")) {
    throw invalid("version 1, and only version 1, is made by init", { version: policy.version });
  }
}

function checkRoles(policy: AccessPolicy): void {
  const custodian = policy.roles[CUSTODIAN_ROLE];
  if (custodian === undefined) throw invalid("the custodian role must be defined", {});
  for (const action of POLICY_ADMIN_ACTIONS) {
    if (!custodian.permissions.includes(action)) {
      throw invalid(`the custodian role must hold ${action}`, { role: CUSTODIAN_ROLE, action });
    }
  }
  for (const [name, role] of Object.entries(policy.roles)) {
    if (name === CUSTODIAN_ROLE) continue;
    const admin = role.permissions.find((action) => POLICY_ADMIN_ACTIONS.includes(action));
    // Only custodians change grants, so the two-custodian rule cannot be side-stepped by a custom role.
    if (admin !== undefined) {
      throw invalid(`only the custodian role may hold ${admin}`, { role: name, action: admin });
    }
  }
}

function checkGrants(policy: AccessPolicy): void {
  const seen = new Set<string>();
  policy.grants.forEach((grant, index) => {
    const role = Object.hasOwn(policy.roles, grant.role) ? policy.roles[grant.role] : undefined;
    if (role === undefined) throw invalid(`grant ${index} names unknown role ${grant.role}`, { index });
    const kind = scopeKind(grant.scope);
    if (role.scopeKinds !== undefined && !role.scopeKinds.includes(kind)) {
      throw invalid(`role ${grant.role} cannot be granted with scope ${grant.scope}`, { index });
    }
    if (grant.expiresAt !== undefined && Date.parse(grant.expiresAt) <= Date.parse(grant.grantedAt)) {
      throw invalid(`grant ${index} expires before it was granted`, { index });
    }
    const key = grantKey(grant);
    if (seen.has(key)) throw invalid(`grant ${index} repeats ${key}`, { index });
    seen.add(key);
  });
}

function checkCustodians(policy: AccessPolicy): void {
  const grants = policy.grants.filter((grant) => grant.role === CUSTODIAN_ROLE);
  if (grants.some((grant) => grant.expiresAt !== undefined)) {
    // An expiring custodian could leave a vault nobody can administer.
    throw invalid("custodian grants do not expire", {});
  }
  const custodians = [...new Set(grants.map((grant) => grant.principal))];
  if (custodians.length > MAX_CUSTODIANS) {
    throw new CustodyError(
      "ERR_CUSTODIAN_LIMIT",
      `at most ${MAX_CUSTODIANS} principals may be custodians; this policy has ${custodians.length}`,
      { details: { custodians } },
    );
  }
  if (custodians.length === 0) {
    throw new CustodyError("ERR_CUSTODIAN_LIMIT", "the policy must keep at least one custodian", {
      details: { custodians: [] },
    });
  }
}

function checkPending(policy: AccessPolicy): void {
  const ids = new Set<string>();
  for (const request of policy.pendingApprovals) {
    if (ids.has(request.id)) throw invalid(`approval request ${request.id} appears twice`, {});
    ids.add(request.id);
    if (Date.parse(request.expiresAt) <= Date.parse(request.proposedAt)) {
      throw invalid(`approval request ${request.id} expires before it was proposed`, {});
    }
  }
}

function findProtoKey(value: unknown, path: string): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (Object.hasOwn(value, "__proto__")) return path;
  for (const [key, child] of Object.entries(value)) {
    const found = findProtoKey(child, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Two grants are the same grant when they give one principal one role over one scope. */
export function grantKey(grant: Pick<Grant, "principal" | "role" | "scope">): string {
  return `${grant.role}@${grant.scope} for ${grant.principal}`;
}

function invalid(message: string, details: Record<string, unknown>): CustodyError {
  return new CustodyError("ERR_POLICY_INVALID", `invalid access policy: ${message}`, { details });
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "does not match the schema";
  const path = issue.path.length === 0 ? "(document)" : issue.path.map(String).join(".");
  return `${path}: ${issue.message}`;
}
