import { createHash } from "node:crypto";
import { CustodyError, canonicalJson } from "@custody/core";
import type { Action } from "./actions.js";
import { authorize, type Decision } from "./authorize.js";
import { CUSTODIAN_ROLE, DEFAULT_ROLES, type RoleDefinition } from "./roles.js";
import type { AccessPolicy, Actor, ApprovableChange, Grant, PolicyChange, PolicyEvent } from "./schema.js";
import { POLICY_FORMAT } from "./schema.js";
import type { Resource } from "./scope.js";
import { grantKey, MAX_CUSTODIANS, parsePolicy } from "./validate.js";

/** sha256 (hex) of the policy's RFC 8785 form: what the next version names as `previous`. */
export function policyHash(policy: AccessPolicy): string {
  return createHash("sha256").update(canonicalJson(policy), "utf8").digest("hex");
}

export interface InitialPolicyOptions {
  /** The first custodian; the only grant a new policy holds. */
  custodian: string;
  at: Date;
  /** The role table; DEFAULT_ROLES when absent. */
  roles?: Record<string, RoleDefinition>;
}

/** Version 1 of a policy: the role table and one custodian. */
export function createInitialPolicy(options: InitialPolicyOptions): AccessPolicy {
  const at = options.at.toISOString();
  return parsePolicy({
    format: POLICY_FORMAT,
    version: 1,
    previous: null,
    event: { kind: "init", by: options.custodian, at },
    roles: structuredClone(options.roles ?? DEFAULT_ROLES),
    grants: [
      {
        principal: options.custodian,
        role: CUSTODIAN_ROLE,
        scope: "*",
        grantedBy: options.custodian,
        grantedAt: at,
      },
    ],
    pendingApprovals: [],
  });
}

/** The principals holding the custodian role, in grant order. */
export function custodiansOf(policy: AccessPolicy): string[] {
  const ids = policy.grants.filter((grant) => grant.role === CUSTODIAN_ROLE).map((grant) => grant.principal);
  return [...new Set(ids)];
}

/** The action a principal needs to make or propose `change`. */
export function requiredAction(change: ApprovableChange): Action {
  switch (change.kind) {
    case "grant":
    case "define-role":
    case "remove-role":
      return "access.grant";
    case "revoke":
      return "access.revoke";
    case "release-hold":
      return "evidence.release";
    case "purge":
      return "evidence.purge";
    case "activate-identity":
    case "revoke-identity":
      return "identity.issue";
  }
}

/** The resource `requiredAction(change)` is checked against. */
export function changeResource(change: ApprovableChange): Resource {
  switch (change.kind) {
    case "release-hold":
    case "purge":
      return change.resource;
    case "activate-identity":
    case "revoke-identity":
      return { kind: "vault" };
    default:
      return { kind: "policy" };
  }
}

/**
 * True when two custodians exist and the change is one the second must approve: releasing a legal
 * hold, purging an item, changing a custodian grant, or changing the role table. With one custodian
 * nobody could approve, so that custodian acts alone.
 */
export function requiresApproval(policy: AccessPolicy, change: ApprovableChange): boolean {
  if (custodiansOf(policy).length < MAX_CUSTODIANS) return false;
  switch (change.kind) {
    case "release-hold":
    case "purge":
    case "define-role":
    case "remove-role":
      return true;
    case "grant":
    case "revoke":
      return change.role === CUSTODIAN_ROLE;
    // One custodian alone may neither give themselves a login as the other nor lock the other out.
    case "activate-identity":
    case "revoke-identity":
      return custodiansOf(policy).includes(change.principal);
  }
}

/** Throws ERR_ACCESS_DENIED unless `by` may make `change`; returns the decision for the audit log. */
export function authorizeChange(
  policy: AccessPolicy,
  by: Actor,
  change: ApprovableChange,
  at: Date,
): Decision {
  const decision = authorize(policy, by, requiredAction(change), changeResource(change), {
    clock: { now: () => at },
  });
  if (decision.outcome === "deny") {
    throw new CustodyError("ERR_ACCESS_DENIED", decision.reason, { details: { decision } });
  }
  return decision;
}

/**
 * The version after `policy` with `event` applied (its change, if a policy change, included). Expired
 * approval requests are dropped. The result is fully validated, so an invalid change throws and
 * nothing is produced.
 */
export function nextVersion(
  policy: AccessPolicy,
  event: PolicyEvent,
  edit: (draft: AccessPolicy) => void,
): AccessPolicy {
  const draft = structuredClone(policy);
  const now = Date.parse(event.at);
  draft.pendingApprovals = draft.pendingApprovals.filter((request) => Date.parse(request.expiresAt) > now);
  edit(draft);
  draft.version = policy.version + 1;
  draft.previous = policyHash(policy);
  draft.event = event;
  return parsePolicy(draft);
}

/** Applies a policy change to a draft; grantedBy/grantedAt come from the event. */
export function applyPolicyChange(draft: AccessPolicy, change: PolicyChange, by: string, at: string): void {
  switch (change.kind) {
    case "grant": {
      const grant: Grant = {
        principal: change.principal,
        role: change.role,
        scope: change.scope,
        grantedBy: by,
        grantedAt: at,
      };
      if (change.expiresAt !== undefined) grant.expiresAt = change.expiresAt;
      // Granting what is already granted renews it (a new expiry, a new granter).
      draft.grants = draft.grants.filter((g) => grantKey(g) !== grantKey(grant));
      draft.grants.push(grant);
      return;
    }
    case "revoke": {
      const kept = draft.grants.filter((g) => grantKey(g) !== grantKey(change));
      if (kept.length === draft.grants.length) {
        throw new CustodyError("ERR_NOT_FOUND", `no ${grantKey(change)} to revoke`, { details: { change } });
      }
      draft.grants = kept;
      return;
    }
    case "define-role":
      draft.roles[change.name] = change.role;
      return;
    case "remove-role":
      if (!Object.hasOwn(draft.roles, change.name)) {
        throw new CustodyError("ERR_NOT_FOUND", `no role ${change.name} to remove`, { details: { change } });
      }
      delete draft.roles[change.name];
      return;
  }
}

export function isPolicyChange(change: ApprovableChange): change is PolicyChange {
  switch (change.kind) {
    case "grant":
    case "revoke":
    case "define-role":
    case "remove-role":
      return true;
    default:
      return false;
  }
}
