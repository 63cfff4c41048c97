import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessPolicyStore, type PolicyChange, verifyPolicyHistory } from "@custody/access";
import { type Clock, CustodyError, sequentialIds } from "@custody/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alice, bob, carol, HOUR, T0 } from "./helpers.js";

let dir: string;
let nowMs: number;
const clock: Clock = { now: () => new Date(nowMs) };
const options = () => ({ clock, ids: sequentialIds("req") });

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "custody-access-")), "policy");
  nowMs = T0.getTime();
});
afterEach(async () => rm(join(dir, ".."), { recursive: true, force: true }));

const grant = (principal: string, role: string, scope = "*", expiresAt?: string): PolicyChange =>
  expiresAt === undefined
    ? { kind: "grant", principal, role, scope: scope as "*" }
    : { kind: "grant", principal, role, scope: scope as "*", expiresAt };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
  return "no error";
}

describe("AccessPolicyStore", () => {
  it("starts with one custodian and keeps each version as a file that names its predecessor", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    expect(store.version).toBe(1);
    expect(store.custodians()).toEqual(["alice"]);
    const first = store.hash;
    const result = await store.apply(grant("ivan", "investigator", "case:A"), alice);
    expect(result).toMatchObject({ version: 2, previous: first, event: { kind: "apply", by: "alice" } });
    expect(result.hash).not.toBe(first);
    expect(result.decision.outcome).toBe("allow");
    expect((await readdir(dir)).sort()).toEqual(["000001.json", "000002.json"]);
    const reopened = await AccessPolicyStore.open(dir, options());
    expect(reopened.hash).toBe(result.hash);
    expect(reopened.authorize({ id: "ivan" }, "evidence.read", { kind: "item", caseId: "A" }).outcome).toBe(
      "allow",
    );
    expect((await reopened.history()).map((p) => p.version)).toEqual([1, 2]);
  });

  it("refuses a second init and an empty directory", async () => {
    await AccessPolicyStore.init(dir, alice, options());
    expect(await codeOf(AccessPolicyStore.init(dir, bob, options()))).toBe("ERR_ALREADY_EXISTS");
    expect(await codeOf(AccessPolicyStore.open(join(dir, "..", "nothing"), options()))).toBe("ERR_NOT_FOUND");
  });

  it("takes authenticated principals that carry more than an id", async () => {
    const withCert = {
      id: "alice",
      kind: "person",
      fingerprintSha256: "a".repeat(64),
      serialNumber: "01",
    } as const;
    const store = await AccessPolicyStore.init(dir, withCert, options());
    await store.apply(grant("bob", "custodian"), withCert);
    const { request } = await store.propose(grant("bob", "investigator", "case:A"), withCert).catch(() => ({
      request: undefined,
    }));
    expect(request).toBeUndefined();
    const proposed = await store.propose(
      { kind: "revoke", principal: "bob", role: "custodian", scope: "*" },
      withCert,
    );
    await store.approve(proposed.request.id, { ...bob, serialNumber: "02" });
    expect(store.custodians()).toEqual(["alice"]);
    expect(await codeOf(AccessPolicyStore.init(join(dir, "x"), " bad id", options()))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    expect(await codeOf(store.apply(grant("x", "analyst"), { id: "" }))).toBe("ERR_INVALID_ARGUMENT");
  });

  it("lets only custodians change grants", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    await store.apply(grant("ivan", "investigator", "case:A"), alice);
    expect(
      await codeOf(store.apply(grant("ivan", "investigator", "*"), { id: "ivan", kind: "person" })),
    ).toBe("ERR_ACCESS_DENIED");
    expect(store.version).toBe(2);
  });

  it("expires a temporary grant", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    const until = new Date(nowMs + 8 * HOUR).toISOString();
    await store.apply(grant("temp", "analyst", "case:A", until), alice);
    const resource = { kind: "item", caseId: "A" } as const;
    expect(store.authorize({ id: "temp" }, "report.read", resource).outcome).toBe("allow");
    nowMs += 8 * HOUR;
    expect(store.authorize({ id: "temp" }, "report.read", resource)).toMatchObject({
      denial: "grant-expired",
    });
  });

  it("refuses a third custodian and the removal of the last", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    expect(
      await codeOf(store.apply({ kind: "revoke", principal: "alice", role: "custodian", scope: "*" }, alice)),
    ).toBe("ERR_CUSTODIAN_LIMIT");
    await store.apply(grant("bob", "custodian"), alice);
    expect(await codeOf(store.apply(grant("carol", "custodian"), alice))).toBe("ERR_APPROVAL_REQUIRED");
    expect(await codeOf(store.propose(grant("carol", "custodian"), alice))).toBe("ERR_CUSTODIAN_LIMIT");
    expect(store.custodians()).toEqual(["alice", "bob"]);
    expect(store.version).toBe(2);
  });

  it("needs the second custodian for custodian changes, releases and purges", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    await store.apply(grant("bob", "custodian"), alice);
    const release = { kind: "release-hold", resource: { kind: "item", itemId: "i1", caseId: "A" } } as const;
    expect(store.requiresApproval(release)).toBe(true);
    const proposed = await store.propose(release, alice);
    expect(proposed.request).toMatchObject({ id: "req-1", proposedBy: "alice", change: release });
    expect(await codeOf(store.approve("req-1", alice))).toBe("ERR_ACCESS_DENIED");
    expect(await codeOf(store.approve("req-1", carol))).toBe("ERR_ACCESS_DENIED");
    const approved = await store.approve("req-1", bob);
    expect(approved).toMatchObject({
      event: { kind: "approve", by: "bob", proposedBy: "alice", requestId: "req-1" },
    });
    expect(approved.policy.pendingApprovals).toEqual([]);
    expect(await codeOf(store.approve("req-1", bob))).toBe("ERR_NOT_FOUND");

    await store.propose({ kind: "revoke", principal: "bob", role: "custodian", scope: "*" }, alice);
    await store.approve("req-2", bob);
    expect(store.custodians()).toEqual(["alice"]);
    // Alone again: the custodian acts without approval, and proposing is refused.
    expect(store.requiresApproval(release)).toBe(false);
    expect(await codeOf(store.propose(release, alice))).toBe("ERR_INVALID_ARGUMENT");
    expect((await AccessPolicyStore.open(dir, options())).version).toBe(store.version);
  });

  it("lets approval requests expire and be withdrawn", async () => {
    const store = await AccessPolicyStore.init(dir, alice, { ...options(), approvalTtlMs: HOUR });
    await store.apply(grant("bob", "custodian"), alice);
    const purge = { kind: "purge", resource: { kind: "item", itemId: "i9" } } as const;
    await store.propose(purge, bob);
    nowMs += HOUR;
    expect(await codeOf(store.approve("req-1", alice))).toBe("ERR_APPROVAL_EXPIRED");
    await store.propose(purge, bob);
    expect(await codeOf(store.cancel("req-2", { id: "ivan", kind: "person" }))).toBe("ERR_ACCESS_DENIED");
    const cancelled = await store.cancel("req-2", bob);
    // The expired request is dropped by the next version.
    expect(cancelled.policy.pendingApprovals).toEqual([]);
    expect((await AccessPolicyStore.open(dir, options())).version).toBe(cancelled.version);
  });

  it("refuses a change based on a stale version and loses no concurrent write", async () => {
    const one = await AccessPolicyStore.init(dir, alice, options());
    const two = await AccessPolicyStore.open(dir, options());
    await one.apply(grant("ivan", "investigator", "case:A"), alice, { expectedVersion: 1 });
    expect(await codeOf(two.apply(grant("ann", "analyst", "case:A"), alice, { expectedVersion: 1 }))).toBe(
      "ERR_CONFLICT",
    );
    const writes = await Promise.allSettled([
      one.apply(grant("a1", "analyst", "case:A"), alice),
      two.apply(grant("a2", "analyst", "case:A"), alice),
      one.apply(grant("a3", "analyst", "case:A"), alice),
    ]);
    const done = writes.filter((w) => w.status === "fulfilled").length;
    for (const w of writes) if (w.status === "rejected") expect(w.reason.code).toBe("ERR_CONFLICT");
    const final = await AccessPolicyStore.open(dir, options());
    expect(final.version).toBe(2 + done);
  });

  it("refuses a hand-edited version on load", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    await store.apply(grant("ivan", "investigator", "case:A"), alice);
    const file = join(dir, "000002.json");
    const original = await readFile(file, "utf8");
    await writeFile(file, original.replace('"case:A"', '"*"'));
    expect(await codeOf(AccessPolicyStore.open(dir, options()))).toBe("ERR_POLICY_INVALID");
    await writeFile(file, JSON.stringify(JSON.parse(original), null, 2));
    expect(await codeOf(AccessPolicyStore.open(dir, options()))).toBe("ERR_POLICY_INVALID");
    const doc = JSON.parse(original);
    for (const id of ["mallory", "trudy"]) {
      doc.grants.push({
        principal: id,
        role: "custodian",
        scope: "*",
        grantedBy: "alice",
        grantedAt: doc.event.at,
      });
    }
    await writeFile(file, JSON.stringify(doc));
    const error = await AccessPolicyStore.open(dir, options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_POLICY_INVALID", cause: { code: "ERR_CUSTODIAN_LIMIT" } });
    await writeFile(file, original);
    expect((await AccessPolicyStore.open(dir, options())).version).toBe(2);
  });

  it("refuses a broken chain, a gap and a version that lies about its number", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    await store.apply(grant("ivan", "investigator", "case:A"), alice);
    await store.apply(grant("ann", "analyst", "case:A"), alice);
    const v1 = await readFile(join(dir, "000001.json"));
    await writeFile(
      join(dir, "000001.json"),
      v1.toString().replace("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.001Z"),
    );
    expect(await codeOf(AccessPolicyStore.open(dir, options()))).toBe("ERR_POLICY_INVALID");
    await writeFile(join(dir, "000001.json"), v1);
    await rm(join(dir, "000002.json"));
    expect(await codeOf(AccessPolicyStore.open(dir, options()))).toBe("ERR_POLICY_INVALID");
    await writeFile(join(dir, "000002.json"), await readFile(join(dir, "000003.json")));
    expect(await codeOf(AccessPolicyStore.open(dir, options()))).toBe("ERR_POLICY_INVALID");
  });

  it("ignores a leftover temp file from a crashed write, and clears it once its writer is gone", async () => {
    const store = await AccessPolicyStore.init(dir, alice, options());
    const dead = ".000002.json.999999999.abc.tmp";
    const live = `.000002.json.${process.pid}.abc.tmp`;
    await writeFile(join(dir, dead), '{"format":"custody.access-pol');
    await writeFile(join(dir, live), '{"format":"custody.access-pol');
    expect((await AccessPolicyStore.open(dir, options())).version).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([live, "000001.json"].sort());
    expect(await verifyPolicyHistory(dir)).toMatchObject({ versions: 1, hash: store.hash });
    expect((await store.apply(grant("ivan", "investigator", "case:A"), alice)).version).toBe(2);
  });
});
