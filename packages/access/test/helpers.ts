import { type AccessPolicy, createInitialPolicy, type Grant, parsePolicy } from "@custody/access";

export const T0 = new Date("2026-01-01T00:00:00.000Z");
export const at = (ms: number) => ({ now: () => new Date(T0.getTime() + ms) });
export const HOUR = 3_600_000;

export const alice = { id: "alice", kind: "person" } as const;
export const bob = { id: "bob", kind: "person" } as const;
export const carol = { id: "carol", kind: "person" } as const;

type GrantSpec = Pick<Grant, "principal" | "role" | "scope"> & Partial<Grant>;

/** A valid policy (alice is the custodian) with extra grants added directly, for authorize tests. */
export function policyWith(grants: GrantSpec[]): AccessPolicy {
  const policy = createInitialPolicy({ custodian: "alice", at: T0 });
  for (const grant of grants) {
    policy.grants.push({ grantedBy: "alice", grantedAt: T0.toISOString(), ...grant });
  }
  return parsePolicy(policy);
}
