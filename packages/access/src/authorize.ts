import { type Clock, systemClock } from "@custody/core";
import { type Action, isAction } from "./actions.js";
import type { AccessPolicy, Actor, Grant } from "./schema.js";
import { describeResource, type Resource, scopeCovers, scopeKind } from "./scope.js";

/** Why a request was denied, for programs; `reason` says the same for people. */
export type Denial =
  | "unknown-action"
  | "no-grant"
  | "grant-expired"
  | "role-lacks-permission"
  | "scope-mismatch";

export type Decision =
  | { outcome: "allow"; reason: string; grant: Grant }
  | { outcome: "deny"; reason: string; denial: Denial; grant?: Grant };

export interface AuthorizeOptions {
  /** Decides which grants have expired; the system clock when absent. */
  clock?: Clock;
}

// Checked in this order, a grant fails on the first: the denial names the closest grant.
type GrantCheck = "allow" | "role-lacks-permission" | "scope-mismatch" | "grant-expired";
const CLOSENESS: Record<GrantCheck, number> = {
  allow: 4,
  "grant-expired": 3,
  "scope-mismatch": 2,
  "role-lacks-permission": 1,
};

/**
 * Deny by default: allows only when one of the principal's grants has a role holding `action`, a scope
 * covering `resource`, and has not expired. Pure and synchronous; the answer names the grant that
 * allowed it or says why none did. Accepts a Clock in place of the options for brevity.
 */
export function authorize(
  policy: AccessPolicy,
  principal: Actor,
  action: Action,
  resource: Resource,
  options?: AuthorizeOptions | Clock,
): Decision {
  const what = `${action} on ${describeResource(resource)}`;
  if (!isAction(action)) {
    return { outcome: "deny", denial: "unknown-action", reason: `${String(action)} is not a known action` };
  }
  const now = clockOf(options).now().getTime();
  let best: { check: GrantCheck; grant: Grant } | undefined;
  for (const grant of policy.grants) {
    if (grant.principal !== principal.id) continue;
    const check = checkGrant(policy, grant, action, resource, now);
    if (best === undefined || CLOSENESS[check] > CLOSENESS[best.check]) best = { check, grant };
    if (check === "allow") break;
  }
  if (best === undefined) {
    return { outcome: "deny", denial: "no-grant", reason: `${what} denied: ${principal.id} holds no grant` };
  }
  return decide(best.check, best.grant, principal.id, what);
}

/**
 * `authorize` for a request whose device is not known yet (a package not read yet names it): allowed
 * when a grant allows `action` on `resource` as it is, or when a grant scoped to some device would allow
 * it for that device. Only a first gate, so a caller no grant could ever allow is refused before the
 * work that would name the device: the request is decided again, with its device, once that is known.
 * A denial is `authorize`'s for `resource` as it is.
 */
export function authorizeForAnyDevice(
  policy: AccessPolicy,
  principal: Actor,
  action: Action,
  resource: Resource,
  options?: AuthorizeOptions | Clock,
): Decision {
  const decision = authorize(policy, principal, action, resource, options);
  if (decision.outcome === "allow" || !isAction(action)) return decision;
  const now = clockOf(options).now().getTime();
  for (const grant of policy.grants) {
    if (grant.principal !== principal.id || scopeKind(grant.scope) !== "device") continue;
    const deviceId = grant.scope.slice("device:".length);
    if (checkGrant(policy, grant, action, { ...resource, deviceId }, now) === "allow") {
      return {
        outcome: "allow",
        grant,
        reason: `${action} on ${describeResource(resource)} for device ${deviceId} allowed by ${describeGrant(grant)}`,
      };
    }
  }
  return decision;
}

function checkGrant(policy: AccessPolicy, grant: Grant, action: Action, resource: Resource, now: number) {
  const role = Object.hasOwn(policy.roles, grant.role) ? policy.roles[grant.role] : undefined;
  if (role === undefined || !role.permissions.includes(action)) return "role-lacks-permission";
  if (!scopeCovers(grant.scope, resource)) return "scope-mismatch";
  if (grant.expiresAt !== undefined && now >= Date.parse(grant.expiresAt)) return "grant-expired";
  return "allow" satisfies GrantCheck;
}

function decide(check: GrantCheck, grant: Grant, who: string, what: string): Decision {
  const name = describeGrant(grant);
  switch (check) {
    case "allow":
      return { outcome: "allow", grant, reason: `${what} allowed by ${name}` };
    case "grant-expired":
      return { outcome: "deny", denial: check, grant, reason: `${what} denied: ${name} expired` };
    case "scope-mismatch":
      return {
        outcome: "deny",
        denial: check,
        grant,
        reason: `${what} denied: the scope of ${name} does not cover it`,
      };
    case "role-lacks-permission":
      return {
        outcome: "deny",
        denial: check,
        grant,
        reason: `${what} denied: no role granted to ${who} includes it (closest: ${name})`,
      };
  }
}

/** `role custodian over * for alice (granted by bob at …, expires …)` */
export function describeGrant(grant: Grant): string {
  const expiry = grant.expiresAt === undefined ? "" : `, expires ${grant.expiresAt}`;
  return `grant of role ${grant.role} over ${grant.scope} to ${grant.principal} (by ${grant.grantedBy} at ${grant.grantedAt}${expiry})`;
}

function clockOf(options: AuthorizeOptions | Clock | undefined): Clock {
  if (options === undefined) return systemClock;
  if ("now" in options && typeof options.now === "function") return options;
  return (options as AuthorizeOptions).clock ?? systemClock;
}
