import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AccessPolicy, AccessPolicyStore, type PolicyChange, parsePolicy } from "@custody/access";
import { CustodyError, fixedClock } from "@custody/core";
import { afterAll, describe, expect, it } from "vitest";
import { alice, policyWith, T0 } from "./helpers.js";

type Edit = (doc: Record<string, unknown> & AccessPolicy) => void;

const base = () =>
  structuredClone(policyWith([{ principal: "ivan", role: "investigator", scope: "case:A" }])) as Record<
    string,
    unknown
  > &
    AccessPolicy;

const hostile: [string, string, Edit][] = [
  [
    "unknown role in a grant",
    "ERR_POLICY_INVALID",
    (d) => {
      d.grants[1] = { ...d.grants[1], role: "wizard" } as never;
    },
  ],
  [
    "unknown action in a role",
    "ERR_POLICY_INVALID",
    (d) => {
      d.roles.analyst = { permissions: ["evidence.eat" as never] };
    },
  ],
  [
    "empty role",
    "ERR_POLICY_INVALID",
    (d) => {
      d.roles.analyst = { permissions: [] };
    },
  ],
  [
    "repeated permission",
    "ERR_POLICY_INVALID",
    (d) => {
      d.roles.analyst = { permissions: ["report.read", "report.read"] };
    },
  ],
  [
    "scope without id",
    "ERR_POLICY_INVALID",
    (d) => {
      (d.grants[1] as { scope: string }).scope = "case:";
    },
  ],
  [
    "scope of unknown kind",
    "ERR_POLICY_INVALID",
    (d) => {
      (d.grants[1] as { scope: string }).scope = "project:A";
    },
  ],
  [
    "scope with a space",
    "ERR_POLICY_INVALID",
    (d) => {
      (d.grants[1] as { scope: string }).scope = "case:A B";
    },
  ],
  [
    "wildcard pattern scope",
    "ERR_POLICY_INVALID",
    (d) => {
      (d.grants[1] as { scope: string }).scope = "case:*";
    },
  ],
  [
    "role granted outside its scope kinds",
    "ERR_POLICY_INVALID",
    (d) => void d.grants.push({ ...grantOf(d), role: "collector" }),
  ],
  ["duplicate grant", "ERR_POLICY_INVALID", (d) => void d.grants.push({ ...grantOf(d) })],
  [
    "impossible date",
    "ERR_POLICY_INVALID",
    (d) => {
      grantOf(d).grantedAt = "2026-02-30T00:00:00.000Z";
    },
  ],
  [
    "date with an offset",
    "ERR_POLICY_INVALID",
    (d) => {
      grantOf(d).grantedAt = "2026-01-01T01:00:00.000+01:00";
    },
  ],
  [
    "expiry before grant",
    "ERR_POLICY_INVALID",
    (d) => {
      grantOf(d).expiresAt = "2025-12-31T00:00:00.000Z";
    },
  ],
  [
    "version 1 naming a predecessor",
    "ERR_POLICY_INVALID",
    (d) => {
      d.previous = "0".repeat(64);
    },
  ],
  [
    "later version without predecessor",
    "ERR_POLICY_INVALID",
    (d) => {
      d.version = 2;
    },
  ],
  [
    "fractional version",
    "ERR_POLICY_INVALID",
    (d) => {
      d.version = 1.5;
    },
  ],
  [
    "previous not a sha256",
    "ERR_POLICY_INVALID",
    (d) => void Object.assign(d, { version: 2, previous: "abc" }),
  ],
  [
    "extra top-level field",
    "ERR_POLICY_INVALID",
    (d) => {
      d.note = "hi";
    },
  ],
  ["extra grant field", "ERR_POLICY_INVALID", (d) => void Object.assign(grantOf(d), { admin: true })],
  ["extra role field", "ERR_POLICY_INVALID", (d) => void Object.assign(d.roles.analyst ?? {}, { all: true })],
  [
    "unknown format",
    "ERR_POLICY_INVALID",
    (d) => {
      d.format = "custody.access-policy/v2" as never;
    },
  ],
  [
    "role name __proto__",
    "ERR_POLICY_INVALID",
    (d) =>
      void Object.defineProperty(d.roles, "__proto__", {
        value: { permissions: ["report.read"] },
        enumerable: true,
      }),
  ],
  [
    "custom role that changes grants",
    "ERR_POLICY_INVALID",
    (d) => {
      d.roles.analyst = { permissions: ["access.grant"] };
    },
  ],
  [
    "custodian role without approve",
    "ERR_POLICY_INVALID",
    (d) => {
      d.roles.custodian = { permissions: ["access.grant", "access.revoke"] };
    },
  ],
  ["no custodian role", "ERR_POLICY_INVALID", (d) => void delete d.roles.custodian],
  [
    "expiring custodian",
    "ERR_POLICY_INVALID",
    (d) => {
      (d.grants[0] as { expiresAt?: string }).expiresAt = "2027-01-01T00:00:00.000Z";
    },
  ],
  ["third custodian", "ERR_CUSTODIAN_LIMIT", (d) => void d.grants.push(custodian("bob"), custodian("carol"))],
  ["no custodian", "ERR_CUSTODIAN_LIMIT", (d) => void d.grants.shift()],
  [
    "duplicate approval request",
    "ERR_POLICY_INVALID",
    (d) => void d.pendingApprovals.push(request("r1"), request("r1")),
  ],
];

function grantOf(doc: AccessPolicy) {
  const grant = doc.grants[1];
  if (grant === undefined) throw new Error("fixture has two grants");
  return grant;
}

function custodian(principal: string) {
  return {
    principal,
    role: "custodian",
    scope: "*" as const,
    grantedBy: "alice",
    grantedAt: T0.toISOString(),
  };
}

function request(id: string) {
  const change = { kind: "purge", resource: { kind: "item", itemId: "x" } } as const;
  return {
    id,
    change,
    proposedBy: "alice",
    proposedAt: T0.toISOString(),
    expiresAt: "2026-01-02T00:00:00.000Z",
  };
}

describe("parsePolicy refuses hostile documents with a coded error", () => {
  it("accepts the unmodified fixture", () => {
    expect(() => parsePolicy(base())).not.toThrow();
  });

  it.each(hostile)("%s", (_name, code, edit) => {
    const doc = base();
    edit(doc);
    expect(() => parsePolicy(doc)).toThrow(expect.objectContaining({ code }));
  });

  it.each([null, 42, "policy", [], { format: "custody.access-policy/v1" }])("refuses %j", (value) => {
    expect(() => parsePolicy(value)).toThrow(CustodyError);
  });
});

describe("a hostile change applies nothing", () => {
  let root: string | undefined;
  afterAll(async () => root && rm(root, { recursive: true, force: true }));

  const changes: [string, string, unknown][] = [
    ["unknown role", "ERR_POLICY_INVALID", { kind: "grant", principal: "x", role: "wizard", scope: "*" }],
    ["bad scope", "ERR_POLICY_INVALID", { kind: "grant", principal: "x", role: "analyst", scope: "case" }],
    [
      "bad date",
      "ERR_POLICY_INVALID",
      { kind: "grant", principal: "x", role: "analyst", scope: "*", expiresAt: "tomorrow" },
    ],
    [
      "past expiry",
      "ERR_POLICY_INVALID",
      { kind: "grant", principal: "x", role: "analyst", scope: "*", expiresAt: "2020-01-01T00:00:00.000Z" },
    ],
    [
      "extra field",
      "ERR_POLICY_INVALID",
      { kind: "grant", principal: "x", role: "analyst", scope: "*", sudo: true },
    ],
    ["unknown kind", "ERR_POLICY_INVALID", { kind: "promote", principal: "x" }],
    [
      "control character in a name",
      "ERR_POLICY_INVALID",
      { kind: "grant", principal: "x\u0000y", role: "analyst", scope: "*" },
    ],
    ["revoke of nothing", "ERR_NOT_FOUND", { kind: "revoke", principal: "x", role: "analyst", scope: "*" }],
    [
      "role with unknown action",
      "ERR_POLICY_INVALID",
      { kind: "define-role", name: "r", role: { permissions: ["root"] } },
    ],
    ["removing a granted role", "ERR_POLICY_INVALID", { kind: "remove-role", name: "custodian" }],
  ];

  it.each(changes)("%s", async (_name, code, change) => {
    root ??= await mkdtemp(join(tmpdir(), "custody-access-hostile-"));
    const dir = join(root, String(Math.random()).slice(2));
    const store = await AccessPolicyStore.init(dir, alice, { clock: fixedClock(T0) });
    await expect(store.apply(change as PolicyChange, alice)).rejects.toMatchObject({ code });
    expect(store.version).toBe(1);
    expect(await readdir(dir)).toEqual(["000001.json"]);
  });
});
