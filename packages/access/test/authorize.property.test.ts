import {
  ACTIONS,
  type AccessPolicy,
  type Action,
  authorize,
  createInitialPolicy,
  DEFAULT_ROLES,
  POLICY_ADMIN_ACTIONS,
  parsePolicy,
  type Resource,
  type RoleDefinition,
} from "@custody/access";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const PEOPLE = ["alice", "p1", "p2", "p3"];
const CASES = ["A", "B"];
const DEVICES = ["d1", "d2"];
const NON_ADMIN = ACTIONS.filter((a) => !POLICY_ADMIN_ACTIONS.includes(a));

// The reference model: a direct reading of the rule, written without the library's helpers.
function referenceAllows(
  policy: AccessPolicy,
  who: string,
  action: string,
  resource: Resource,
  now: number,
): boolean {
  return policy.grants.some((g) => {
    if (g.principal !== who) return false;
    const permissions: string[] = policy.roles[g.role]?.permissions ?? [];
    if (!permissions.includes(action)) return false;
    const scopeOk =
      g.scope === "*" ||
      (resource.caseId !== undefined && g.scope === `case:${resource.caseId}`) ||
      (resource.deviceId !== undefined && g.scope === `device:${resource.deviceId}`);
    return scopeOk && (g.expiresAt === undefined || now < Date.parse(g.expiresAt));
  });
}

function referenceDenial(policy: AccessPolicy, who: string, action: string, resource: Resource): string {
  const mine = policy.grants.filter((g) => g.principal === who);
  if (mine.length === 0) return "no-grant";
  const holds = mine.filter((g) => ((policy.roles[g.role]?.permissions ?? []) as string[]).includes(action));
  const covered = holds.filter(
    (g) =>
      g.scope === "*" || g.scope === `case:${resource.caseId}` || g.scope === `device:${resource.deviceId}`,
  );
  if (covered.length > 0) return "grant-expired";
  return holds.length > 0 ? "scope-mismatch" : "role-lacks-permission";
}

const scopeArb = fc.oneof(
  fc.constant("*"),
  fc.constantFrom(...CASES.map((c) => `case:${c}`)),
  fc.constantFrom(...DEVICES.map((d) => `device:${d}`)),
);

const customRolesArb = fc.dictionary(
  fc.constantFrom("r1", "r2", "analyst"),
  fc.record({ permissions: fc.uniqueArray(fc.constantFrom(...NON_ADMIN), { minLength: 1 }) }),
  { maxKeys: 3 },
);

const grantArb = fc.record({
  principal: fc.constantFrom(...PEOPLE),
  role: fc.constantFrom(...Object.keys(DEFAULT_ROLES), "r1", "r2"),
  scope: scopeArb,
  expiresInMs: fc.option(fc.integer({ min: 1, max: 48 * 3_600_000 }), { nil: undefined }),
});

const policyArb = fc.tuple(customRolesArb, fc.array(grantArb, { maxLength: 14 })).map(([custom, grants]) => {
  const roles: Record<string, RoleDefinition> = { ...structuredClone(DEFAULT_ROLES), ...custom };
  const policy = createInitialPolicy({ custodian: "alice", at: new Date(T0), roles });
  const seen = new Set(["alice custodian *"]);
  for (const g of grants) {
    const role = roles[g.role];
    const kind = g.scope === "*" ? "*" : g.scope.startsWith("case:") ? "case" : "device";
    const key = `${g.principal} ${g.role} ${g.scope}`;
    if (role === undefined || seen.has(key) || g.role === "custodian") continue;
    if (role.scopeKinds !== undefined && !role.scopeKinds.includes(kind)) continue;
    seen.add(key);
    const grant = {
      principal: g.principal,
      role: g.role,
      scope: g.scope as "*",
      grantedBy: "alice",
      grantedAt: new Date(T0).toISOString(),
    };
    policy.grants.push(
      g.expiresInMs === undefined
        ? grant
        : { ...grant, expiresAt: new Date(T0 + g.expiresInMs).toISOString() },
    );
  }
  return parsePolicy(policy);
});

const resourceArb: fc.Arbitrary<Resource> = fc.record(
  {
    kind: fc.constantFrom("case", "device", "item", "audit", "policy", "vault"),
    caseId: fc.constantFrom(...CASES, "C"),
    deviceId: fc.constantFrom(...DEVICES, "d3"),
    itemId: fc.constant("item-1"),
  },
  { requiredKeys: ["kind"] },
);

const requestArb = fc.record({
  who: fc.constantFrom(...PEOPLE, "nobody"),
  action: fc.constantFrom(...ACTIONS),
  resource: resourceArb,
  nowMs: fc.integer({ min: 0, max: 72 * 3_600_000 }),
});

describe("authorize against the reference model", () => {
  it("agrees on every decision and every reason kind", () => {
    fc.assert(
      fc.property(policyArb, fc.array(requestArb, { minLength: 1, maxLength: 20 }), (policy, requests) => {
        for (const { who, action, resource, nowMs } of requests) {
          const now = T0 + nowMs;
          const decision = authorize(policy, { id: who }, action, resource, {
            clock: { now: () => new Date(now) },
          });
          const expected = referenceAllows(policy, who, action, resource, now);
          expect(decision.outcome).toBe(expected ? "allow" : "deny");
          if (decision.outcome === "deny")
            expect(decision.denial).toBe(referenceDenial(policy, who, action, resource));
        }
      }),
      { numRuns: 400 },
    );
  });

  it("never gives an action that the allowing grant does not give", () => {
    const taken = { allow: 0, deny: 0 };
    fc.assert(
      fc.property(policyArb, requestArb, (policy, { who, action, resource, nowMs }) => {
        const now = T0 + nowMs;
        const decision = authorize(policy, { id: who }, action as Action, resource, {
          clock: { now: () => new Date(now) },
        });
        taken[decision.outcome] += 1;
        if (decision.outcome !== "allow") return;
        const grant = decision.grant;
        expect(policy.grants).toContainEqual(grant);
        expect(grant.principal).toBe(who);
        expect(policy.roles[grant.role]?.permissions).toContain(action);
        expect(grant.expiresAt === undefined || now < Date.parse(grant.expiresAt)).toBe(true);
        const names = [`case:${resource.caseId}`, `device:${resource.deviceId}`, "*"];
        expect(names).toContain(grant.scope);
        // Without that principal's grants, the same request is denied.
        const stripped = { ...policy, grants: policy.grants.filter((g) => g.principal !== who) };
        expect(
          authorize(stripped, { id: who }, action, resource, { clock: { now: () => new Date(now) } }).outcome,
        ).toBe("deny");
      }),
      { numRuns: 400 },
    );
    // The checks above run only on allowed requests: enough of them must have been generated.
    expect(taken.allow).toBeGreaterThan(20);
    expect(taken.deny).toBeGreaterThan(20);
  });
});
