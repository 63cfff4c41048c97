import { type Action, authorize, authorizeForAnyDevice, type Resource } from "@custody/access";
import { describe, expect, it } from "vitest";
import { at, HOUR, policyWith, T0 } from "./helpers.js";

const itemA: Resource = { kind: "item", itemId: "i1", caseId: "A", deviceId: "host1" };
const itemB: Resource = { kind: "item", itemId: "i2", caseId: "B", deviceId: "host2" };
const auditLog: Resource = { kind: "audit" };

const policy = policyWith([
  { principal: "ivan", role: "investigator", scope: "case:A" },
  { principal: "rita", role: "responder", scope: "case:A" },
  { principal: "ann", role: "analyst", scope: "case:B" },
  { principal: "otto", role: "auditor", scope: "*" },
  { principal: "agent-host1", role: "collector", scope: "device:host1" },
  {
    principal: "temp",
    role: "investigator",
    scope: "case:A",
    expiresAt: new Date(T0.getTime() + 8 * HOUR).toISOString(),
  },
]);

const allow = (who: string, action: Action, resource: Resource, ms = 0) =>
  authorize(policy, { id: who }, action, resource, { clock: at(ms) }).outcome === "allow";

describe("authorize", () => {
  it("denies by default, naming why", () => {
    const decision = authorize(policy, { id: "mallory" }, "evidence.read", itemA, at(0));
    expect(decision).toMatchObject({ outcome: "deny", denial: "no-grant" });
    expect(decision.reason).toContain("mallory holds no grant");
    expect(decision.grant).toBeUndefined();
  });

  it("allows through a grant and names it", () => {
    const decision = authorize(policy, { id: "ivan" }, "evidence.read", itemA, { clock: at(0) });
    expect(decision.outcome).toBe("allow");
    expect(decision.grant).toMatchObject({ principal: "ivan", role: "investigator", scope: "case:A" });
    expect(decision.reason).toContain("role investigator over case:A");
  });

  it("gives the custodian everything, everywhere", () => {
    for (const action of ["evidence.purge", "evidence.release", "access.grant", "audit.read"] as const) {
      expect(allow("alice", action, itemB)).toBe(true);
    }
    expect(allow("alice", "access.grant", { kind: "policy" })).toBe(true);
  });

  it("keeps an investigator to its cases and off holds and purges", () => {
    expect(allow("ivan", "evidence.export", itemA)).toBe(true);
    expect(allow("ivan", "report.read", itemA)).toBe(true);
    const other = authorize(policy, { id: "ivan" }, "evidence.read", itemB, at(0));
    expect(other).toMatchObject({ outcome: "deny", denial: "scope-mismatch" });
    const purge = authorize(policy, { id: "ivan" }, "evidence.purge", itemA, at(0));
    expect(purge).toMatchObject({ outcome: "deny", denial: "role-lacks-permission" });
    expect(allow("ivan", "evidence.hold", itemA)).toBe(false);
    expect(allow("ivan", "access.grant", { kind: "policy" })).toBe(false);
  });

  it("lets a responder ingest into its scope only", () => {
    expect(allow("rita", "evidence.ingest", { kind: "case", caseId: "A" })).toBe(true);
    expect(allow("rita", "evidence.ingest", { kind: "case", caseId: "B" })).toBe(false);
    expect(allow("rita", "evidence.read", itemA)).toBe(false);
  });

  it("never shows evidence content to analysts and auditors", () => {
    expect(allow("ann", "report.read", itemB)).toBe(true);
    expect(allow("ann", "evidence.read", itemB)).toBe(false);
    expect(allow("otto", "report.read", itemA)).toBe(true);
    expect(allow("otto", "audit.read", auditLog)).toBe(true);
    expect(allow("otto", "evidence.read", itemA)).toBe(false);
    expect(allow("otto", "evidence.export", itemB)).toBe(false);
  });

  it("lets a request whose device is not known yet through its first gate only where some grant could allow it", () => {
    const gate = (who: string, action: Action, resource: Resource, ms = 0) =>
      authorizeForAnyDevice(policy, { id: who }, action, resource, { clock: at(ms) });
    const caseA: Resource = { kind: "case", caseId: "A" };
    // a case grant allows it as it is; a device-scoped grant might, for its own device
    expect(gate("rita", "evidence.ingest", caseA).outcome).toBe("allow");
    expect(gate("agent-host1", "evidence.ingest", caseA)).toMatchObject({
      outcome: "allow",
      reason: expect.stringContaining("device host1"),
    });
    // no grant, another case, a role without the action, an expired grant: refused as authorize refuses
    expect(gate("nobody", "evidence.ingest", caseA)).toMatchObject({ outcome: "deny", denial: "no-grant" });
    expect(gate("rita", "evidence.ingest", { kind: "case", caseId: "B" })).toEqual(
      authorize(policy, { id: "rita" }, "evidence.ingest", { kind: "case", caseId: "B" }, at(0)),
    );
    expect(gate("agent-host1", "evidence.purge", caseA).outcome).toBe("deny");
    expect(gate("otto", "evidence.ingest", caseA).outcome).toBe("deny");
    expect(gate("temp", "evidence.list", caseA, 8 * HOUR)).toMatchObject({
      outcome: "deny",
      denial: "grant-expired",
    });
    expect(gate("ivan", "not.an.action" as Action, caseA)).toMatchObject({ denial: "unknown-action" });
  });

  it("keeps a collector to its own device", () => {
    expect(allow("agent-host1", "evidence.ingest", { kind: "device", deviceId: "host1" })).toBe(true);
    expect(allow("agent-host1", "evidence.ingest", { kind: "device", deviceId: "host2" })).toBe(false);
    expect(allow("agent-host1", "evidence.ingest", { kind: "case", caseId: "A" })).toBe(false);
    expect(allow("agent-host1", "evidence.list", { kind: "device", deviceId: "host1" })).toBe(false);
  });

  it("ends a temporary grant at its expiry, to the millisecond", () => {
    expect(allow("temp", "evidence.read", itemA, 8 * HOUR - 1)).toBe(true);
    const late = authorize(policy, { id: "temp" }, "evidence.read", itemA, at(8 * HOUR));
    expect(late).toMatchObject({ outcome: "deny", denial: "grant-expired" });
    expect(late.reason).toContain("expired");
  });

  it("covers resources without a case or device only with *", () => {
    expect(allow("ivan", "audit.read", auditLog)).toBe(false);
    expect(allow("ivan", "evidence.list", { kind: "vault" })).toBe(false);
  });

  it("denies an unknown action instead of throwing", () => {
    const decision = authorize(policy, { id: "alice" }, "evidence.eat" as Action, itemA, at(0));
    expect(decision).toMatchObject({ outcome: "deny", denial: "unknown-action" });
  });

  it("reports the closest failing grant when several fail", () => {
    const mixed = policyWith([
      { principal: "x", role: "analyst", scope: "case:A" },
      { principal: "x", role: "investigator", scope: "case:B" },
      {
        principal: "x",
        role: "investigator",
        scope: "case:A",
        expiresAt: new Date(T0.getTime() + HOUR).toISOString(),
      },
    ]);
    const decision = authorize(mixed, { id: "x" }, "evidence.read", itemA, at(2 * HOUR));
    expect(decision).toMatchObject({ outcome: "deny", denial: "grant-expired" });
  });
});
