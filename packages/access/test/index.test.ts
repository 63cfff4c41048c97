import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as access from "@custody/access";
import { describe, expect, it } from "vitest";

describe("@custody/access public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(access).sort()).toEqual(
      [
        "ACTIONS",
        "AccessPolicyStore",
        "CUSTODIAN_ROLE",
        "DEFAULT_APPROVAL_TTL_MS",
        "DEFAULT_ROLES",
        "MAX_CUSTODIANS",
        "MAX_POLICY_FILE_BYTES",
        "POLICY_ADMIN_ACTIONS",
        "POLICY_FORMAT",
        "RESOURCE_KINDS",
        "SCOPE_KINDS",
        "accessPolicySchema",
        "actionSchema",
        "approvableChangeSchema",
        "authorize",
        "authorizeForAnyDevice",
        "changeResource",
        "createInitialPolicy",
        "custodiansOf",
        "DirectoryPolicyStorage",
        "describeGrant",
        "grantSchema",
        "isAction",
        "operationChangeSchema",
        "parsePolicy",
        "pendingApprovalSchema",
        "policyChangeSchema",
        "policyHash",
        "principalIdSchema",
        "principalSchema",
        "requiredAction",
        "requiresApproval",
        "resourceSchema",
        "roleDefinitionSchema",
        "roleNameSchema",
        "scopeCovers",
        "scopeIdSchema",
        "scopeSchema",
        "timestampSchema",
        "verifyPolicyHistory",
      ].sort(),
    );
  });

  it("has the closed action set and the six default roles", () => {
    expect(access.ACTIONS).toHaveLength(28);
    expect(Object.keys(access.DEFAULT_ROLES).sort()).toEqual(
      ["analyst", "auditor", "collector", "custodian", "investigator", "responder"].sort(),
    );
    expect(access.MAX_CUSTODIANS).toBe(2);
  });

  it("runs the README example", async () => {
    const root = await mkdtemp(join(tmpdir(), "custody-access-index-"));
    try {
      const alice = { id: "alice", kind: "person" } as const;
      const store = await access.AccessPolicyStore.init(join(root, "policy"), alice);
      await store.apply({ kind: "grant", principal: "ivan", role: "investigator", scope: "case:A" }, alice);
      const item = { kind: "item", itemId: "i1", caseId: "A" } as const;
      expect(store.authorize({ id: "ivan" }, "evidence.read", item).outcome).toBe("allow");
      const denied = access.authorize(store.policy, { id: "ivan" }, "evidence.purge", item);
      expect(denied).toMatchObject({ outcome: "deny", denial: "role-lacks-permission" });

      await store.apply({ kind: "grant", principal: "bob", role: "custodian", scope: "*" }, alice);
      const release = { kind: "release-hold", resource: item } as const;
      await expect(store.apply(release as never, alice)).rejects.toMatchObject({
        code: "ERR_POLICY_INVALID",
      });
      const { request } = await store.propose(release, alice);
      const approved = await store.approve(request.id, { id: "bob", kind: "person" });
      expect(approved.request.change).toEqual(release);
      expect(approved.event).toMatchObject({ kind: "approve", by: "bob", proposedBy: "alice" });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
