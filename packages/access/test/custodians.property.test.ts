import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AccessPolicy,
  AccessPolicyStore,
  type ApprovableChange,
  createInitialPolicy,
  custodiansOf,
  MAX_CUSTODIANS,
  parsePolicy,
  requiresApproval,
} from "@custody/access";
import { CustodyError, sequentialIds } from "@custody/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  applyTransition,
  approveTransition,
  cancelTransition,
  proposeTransition,
} from "../src/transitions.js";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const PEOPLE = ["alice", "bob", "carol", "dave"];

const changeArb: fc.Arbitrary<ApprovableChange> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("grant" as const, "revoke" as const),
    principal: fc.constantFrom(...PEOPLE),
    role: fc.constantFrom("custodian", "custodian", "investigator"),
    scope: fc.constant("*" as const),
  }),
  fc.record({
    kind: fc.constantFrom("release-hold" as const, "purge" as const),
    resource: fc.constant({ kind: "item" as const, itemId: "i1" }),
  }),
);

const opArb = fc.record({
  op: fc.constantFrom("apply", "apply", "propose", "propose", "approve", "approve", "approve", "cancel"),
  change: changeArb,
  by: fc.constantFrom("alice", "alice", "bob", "bob", "carol", "dave"),
  /** Approve as the custodian who did not propose, so approvals happen often enough to matter. */
  asOther: fc.boolean(),
  pick: fc.nat(3),
  advanceMs: fc.constantFrom(0, 0, 0, 60_000, 13 * 3_600_000),
});

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function pickRequest(policy: AccessPolicy, op: Op) {
  return policy.pendingApprovals[op.pick % Math.max(1, policy.pendingApprovals.length)];
}

function actor(policy: AccessPolicy, op: Op) {
  const request = pickRequest(policy, op);
  const other = custodiansOf(policy).find((id) => id !== request?.proposedBy);
  return {
    id: op.asOther && op.op === "approve" && other !== undefined ? other : op.by,
    kind: "person" as const,
  };
}

function step(policy: AccessPolicy, op: Op, at: Date, ids: { next(): string }): AccessPolicy {
  const by = actor(policy, op);
  const request = pickRequest(policy, op);
  switch (op.op) {
    case "apply":
      if (op.change.kind === "release-hold" || op.change.kind === "purge") return policy;
      return applyTransition(policy, op.change, by, at).policy;
    case "propose":
      return proposeTransition(policy, op.change, by, {
        at,
        id: ids.next(),
        expiresAt: new Date(at.getTime() + 12 * 3_600_000),
      }).policy;
    case "approve":
      return request === undefined ? policy : approveTransition(policy, request.id, by, at).policy;
    default:
      return request === undefined ? policy : cancelTransition(policy, request.id, by, at).policy;
  }
}

/** How many steps took each branch of checkStep over a whole run (a branch never taken checks nothing). */
const steps = { unchanged: 0, changed: 0, approved: 0, custodiansChanged: 0 };

// What must hold between every pair of versions, whatever the sequence.
function checkStep(before: AccessPolicy, after: AccessPolicy): void {
  parsePolicy(after);
  const count = custodiansOf(after).length;
  expect(count).toBeGreaterThanOrEqual(1);
  expect(count).toBeLessThanOrEqual(MAX_CUSTODIANS);
  if (after === before) {
    steps.unchanged += 1;
    return;
  }
  steps.changed += 1;
  const event = after.event;
  expect(after.version).toBe(before.version + 1);
  if (event.kind === "apply" && event.change) expect(requiresApproval(before, event.change)).toBe(false);
  if (event.kind === "approve") {
    steps.approved += 1;
    expect(event.by).not.toBe(event.proposedBy);
    expect(custodiansOf(before)).toContain(event.by);
  }
  const changedCustodians = custodiansOf(before).join() !== custodiansOf(after).join();
  if (changedCustodians) steps.custodiansChanged += 1;
  if (changedCustodians && custodiansOf(before).length === MAX_CUSTODIANS) expect(event.kind).toBe("approve");
}

describe("the custodian rule through any sequence of operations", () => {
  it("never has more than two custodians, and two-custodian changes are always approved by the other", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10, maxLength: 40 }), (ops) => {
        let policy = createInitialPolicy({ custodian: "alice", at: new Date(T0) });
        let now = T0;
        const ids = sequentialIds("req");
        for (const op of ops) {
          now += op.advanceMs;
          const before = policy;
          try {
            policy = step(policy, op, new Date(now), ids);
          } catch (error) {
            // A refused operation is a coded error and leaves the policy as it was.
            expect(error).toBeInstanceOf(CustodyError);
          }
          checkStep(before, policy);
        }
      }),
      { numRuns: 300 },
    );
    expect(steps.unchanged).toBeGreaterThan(0);
    expect(steps.changed).toBeGreaterThan(100);
    expect(steps.approved).toBeGreaterThan(0);
    expect(steps.custodiansChanged).toBeGreaterThan(0);
  });

  describe("through the file store", () => {
    let root: string | undefined;
    afterAll(async () => root && rm(root, { recursive: true, force: true }));

    it("keeps the rule on disk, and every history reloads", async () => {
      root = await mkdtemp(join(tmpdir(), "custody-access-prop-"));
      const base = root;
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 12 }), async (ops) => {
          const dir = join(base, String(run++));
          let now = T0;
          const clock = { now: () => new Date(now) };
          const store = await AccessPolicyStore.init(dir, "alice", { clock, ids: sequentialIds("req") });
          for (const op of ops) {
            now += op.advanceMs;
            const by = { id: op.by, kind: "person" as const };
            const request =
              store.policy.pendingApprovals[op.pick % Math.max(1, store.policy.pendingApprovals.length)];
            const before = store.policy;
            try {
              if (op.op === "apply" && op.change.kind !== "release-hold" && op.change.kind !== "purge") {
                await store.apply(op.change, by);
              } else if (op.op === "propose") await store.propose(op.change, by);
              else if (op.op === "approve" && request) await store.approve(request.id, by);
              else if (op.op === "cancel" && request) await store.cancel(request.id, by);
            } catch (error) {
              expect(error).toBeInstanceOf(CustodyError);
              expect(store.policy).toBe(before);
            }
            checkStep(before, store.policy);
          }
          const reopened = await AccessPolicyStore.open(dir, { clock });
          expect(reopened.hash).toBe(store.hash);
        }),
        { numRuns: 25 },
      );
    });
  });
});
