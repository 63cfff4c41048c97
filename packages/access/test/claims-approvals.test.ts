import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessPolicyStore, type PolicyChange } from "@custody/access";
import { type Clock, CustodyError, sequentialIds } from "@custody/core";
import { afterAll, describe, expect, it } from "vitest";
import { alice, bob, HOUR, T0 } from "./helpers.js";

// docs/access.md: granting the same role over the same scope again renews the grant; the proposer must
// still be entitled to a change when the other custodian approves it.
let nowMs = T0.getTime();
const clock: Clock = { now: () => new Date(nowMs) };
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function newStore(): Promise<AccessPolicyStore> {
  const dir = await mkdtemp(join(tmpdir(), "custody-access-claims-"));
  dirs.push(dir);
  return AccessPolicyStore.init(dir, alice, { clock, ids: sequentialIds("req") });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "no error",
    (error: unknown) => (error instanceof CustodyError ? error.code : "not a CustodyError"),
  );
}

describe("grants and approvals", () => {
  it("renews a grant given again: one grant, with the new expiry and granter", async () => {
    const store = await newStore();
    await store.apply({ kind: "grant", principal: "bob", role: "custodian", scope: "*" }, alice);
    const first = new Date(nowMs + HOUR).toISOString();
    const later = new Date(nowMs + 8 * HOUR).toISOString();
    const analyst = (expiresAt: string): PolicyChange => ({
      kind: "grant",
      principal: "ext",
      role: "analyst",
      scope: "case:A",
      expiresAt,
    });
    await store.apply(analyst(first), alice);
    await store.apply(analyst(later), bob);
    const grants = store.policy.grants.filter((g) => g.principal === "ext");
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ role: "analyst", scope: "case:A", expiresAt: later, grantedBy: "bob" });
    nowMs += 2 * HOUR;
    const resource = { kind: "item", itemId: "i1", caseId: "A" } as const;
    expect(store.authorize({ id: "ext" }, "report.read", resource).outcome).toBe("allow");
  });

  it("refuses an approval once the proposer is no longer entitled to the change", async () => {
    const store = await newStore();
    const purger: PolicyChange = {
      kind: "define-role",
      name: "purger",
      role: { permissions: ["evidence.purge"] },
    };
    await store.apply(purger, alice);
    await store.apply({ kind: "grant", principal: "dave", role: "purger", scope: "case:A" }, alice);
    await store.apply({ kind: "grant", principal: "bob", role: "custodian", scope: "*" }, alice);
    const dave = { id: "dave", kind: "person" } as const;
    const purge = (itemId: string) =>
      ({ kind: "purge", resource: { kind: "item", itemId, caseId: "A" } }) as const;

    // entitled at approval: approved
    const kept = await store.propose(purge("i1"), dave);
    expect((await store.approve(kept.request.id, bob)).event).toMatchObject({
      kind: "approve",
      proposedBy: "dave",
    });

    // no longer entitled at approval: refused
    const dropped = await store.propose(purge("i2"), dave);
    await store.apply({ kind: "revoke", principal: "dave", role: "purger", scope: "case:A" }, alice);
    expect(await codeOf(store.approve(dropped.request.id, bob))).toBe("ERR_ACCESS_DENIED");
  });
});
