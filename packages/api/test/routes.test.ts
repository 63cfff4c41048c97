import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import {
  grantRequestSchema,
  ingestQuerySchema,
  itemParamsSchema,
  openApiDocument,
  ROUTES,
  type RouteSpec,
  retentionBodySchema,
  routePath,
} from "../src/index.js";

const routes = Object.values(ROUTES) as RouteSpec[];

describe("the route table", () => {
  it("has one route per method and path, every one under /v1", () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const route of routes) expect(route.path.startsWith("/v1/"), route.path).toBe(true);
  });

  it("serves every VaultApi method", () => {
    const operations = new Set(routes.map((r) => r.operation));
    for (const method of [
      "ingest",
      "list",
      "show",
      "read",
      "hold",
      "extendRetention",
      "release",
      "purge",
      "approve",
      "check",
      "report",
      "grant",
      "revoke",
      "listAccess",
      "issueIdentity",
      "revokeIdentity",
      "whoami",
      "verifyAudit",
      "showAudit",
      "proveAudit",
      "checkpoint",
      "rotateSigner",
      "createEnrollmentToken",
      "listDevices",
      "showDevice",
      "approveDevice",
      "revokeDevice",
      "liveResponse",
      "setLiveResponse",
    ]) {
      expect(operations.has(method), method).toBe(true);
    }
  });

  it("fills path parameters URL-encoded", () => {
    expect(routePath(ROUTES.show.path, { id: "ab".repeat(32) })).toBe(`/v1/items/${"ab".repeat(32)}`);
    expect(routePath(ROUTES.revokeIdentity.path, { name: "a/b" })).toBe("/v1/identities/a%2Fb");
    expect(() => routePath(ROUTES.show.path)).toThrow(/id/);
  });
});

describe("request schemas refuse hostile input", () => {
  it.each([["../etc/passwd"], ["a".repeat(65)], ["ＡＢＣＤＥＦ０１２"], ["ABCDEF0123"], ["abc"], [""]])(
    "item id %j",
    (id) => {
      expect(itemParamsSchema.safeParse({ id }).success).toBe(false);
    },
  );

  it("accepts an item id or a prefix of 8+ hex digits", () => {
    expect(itemParamsSchema.safeParse({ id: "a".repeat(64) }).success).toBe(true);
    expect(itemParamsSchema.safeParse({ id: "0123abcd" }).success).toBe(true);
  });

  it("refuses unknown keys in bodies and queries", () => {
    expect(retentionBodySchema.safeParse({ until: "2030-01-01T00:00:00.000Z", extra: 1 }).success).toBe(
      false,
    );
    expect(ingestQuerySchema.safeParse({ case: "C", admin: "true" }).success).toBe(false);
    expect(
      grantRequestSchema.safeParse({ name: "bob", role: "investigator", scope: "case:../x" }).success,
    ).toBe(false);
  });

  it("parses the ingest query a client sends", () => {
    const query = { case: "IR-7", kind: "file", retainDays: "30", legalHold: "true", label: ["a=b", "c=d"] };
    expect(ingestQuerySchema.parse(query)).toEqual(query);
    expect(ingestQuerySchema.safeParse({ case: "IR-7", retainDays: "-1" }).success).toBe(false);
  });
});

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with every route and the problem details schema", () => {
    const doc = openApiDocument();
    expect(doc.openapi).toBe("3.1.0");
    for (const route of routes) {
      const path = route.path.replace(/:([A-Za-z]+)/g, "{$1}");
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
    }
    expect(JSON.stringify(doc)).toContain('"additionalProperties":false');
  });

  it("is the one in docs/openapi.json (regenerate with node scripts/openapi.mjs after tsc -b)", async () => {
    const file = new URL("../../../docs/openapi.json", import.meta.url);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });
});
