import { readdir } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditRecords, call, eventually, type Served, serveVault } from "./helpers.js";

let served: Served;
const MAX_UPLOAD = 256 * 1024;

beforeAll(async () => {
  served = await serveVault({ limits: { maxUploadBytes: MAX_UPLOAD } });
});
afterAll(async () => served.cleanup());

function as(
  method: string,
  path: string,
  extra: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
) {
  return call(served.url, path, { method, identity: served.alice, ca: served.ca, ...extra });
}

async function nothingStored(caseId: string): Promise<void> {
  const listed = await as("GET", `/v1/items?case=${caseId}`);
  expect(listed.status).toBe(200);
  expect((listed.json() as { items: unknown[] }).items).toEqual([]);
  const spool = await readdir(join(served.vaultDir, "server", "uploads")).catch(() => []);
  expect(spool).toEqual([]);
}

describe("hostile requests get 400 with the code, and change nothing", () => {
  it.each([
    ["malformed JSON", "/v1/access/grants", '{"name": "bob", '],
    [
      "unknown fields",
      "/v1/access/grants",
      JSON.stringify({ name: "bob", role: "investigator", scope: "*", admin: true }),
    ],
    [
      "a __proto__ key",
      "/v1/access/grants",
      '{"name":"bob","role":"investigator","scope":"*","__proto__":{"x":1}}',
    ],
    [
      "a hostile scope",
      "/v1/access/grants",
      JSON.stringify({ name: "bob", role: "investigator", scope: "case:../../x" }),
    ],
    [
      "a date that is not one",
      `/v1/items/${"a".repeat(64)}/retention`,
      JSON.stringify({ until: "tomorrow" }),
    ],
  ])("%s", async (_what, path, text) => {
    const response = await as("POST", path, { body: text, headers: { "content-type": "application/json" } });
    expect(response.status, response.body.toString()).toBe(400);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      status: 400,
      requestId: response.headers["x-request-id"],
    });
  });

  it.each([
    ["../", "/v1/items/..%2F..%2Fpki%2Fca.key"],
    ["65 hex digits", `/v1/items/${"a".repeat(65)}`],
    ["full-width digits", `/v1/items/${encodeURIComponent("０１２３４５６７８９")}`],
    ["upper case", `/v1/items/${"A".repeat(64)}`],
    ["a hostile case", `/v1/items/${"a".repeat(64)}?case=..%2Fx`],
    ["an unknown query parameter", `/v1/items/${"a".repeat(64)}?debug=1`],
    ["a hostile identity name", "/v1/identities/..%2Falice"],
    ["a negative audit position", "/v1/audit?since=-1"],
  ])("an id or query with %s", async (_what, path) => {
    const method = path.startsWith("/v1/identities") ? "DELETE" : "GET";
    const response = await as(method, path);
    expect(response.status, response.body.toString()).toBe(400);
    expect(response.json()).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  });

  it("an unknown route is 404 ERR_NOT_FOUND", async () => {
    const response = await as("GET", "/v1/nothing-here");
    expect(response.status).toBe(404);
    expect(response.json()).toMatchObject({ code: "ERR_NOT_FOUND" });
  });

  it("a JSON body over its route's limit is 413 ERR_SIZE_LIMIT", async () => {
    const response = await as("POST", "/v1/access/grants", {
      json: { name: "x".repeat(200_000), role: "r", scope: "*" },
    });
    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({ code: "ERR_SIZE_LIMIT" });
  });
});

describe("uploads", () => {
  const octets = { "content-type": "application/octet-stream" };

  it("an upload declared larger than the limit is 413 before a byte is stored", async () => {
    const response = await as("POST", "/v1/items?case=BIG", {
      body: Buffer.alloc(MAX_UPLOAD + 1),
      headers: octets,
    });
    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({ code: "ERR_SIZE_LIMIT" });
    await nothingStored("BIG");
  });

  it("a chunked upload that grows past the limit is cut with 413, nothing stored", async () => {
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(new URL("/v1/items?case=BIG2", served.url), {
        method: "POST",
        headers: octets,
        ca: served.ca,
        cert: served.alice.cert,
        key: served.alice.key,
        agent: false,
      });
      req.on("error", reject);
      req.on("response", (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      const chunk = Buffer.alloc(64 * 1024);
      const writeMore = (left: number): void => {
        if (left === 0 || req.destroyed) return void req.end();
        if (req.write(chunk)) writeMore(left - 1);
        else req.once("drain", () => writeMore(left - 1));
      };
      writeMore(8);
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toMatchObject({ code: "ERR_SIZE_LIMIT" });
    await nothingStored("BIG2");
  });

  it("a digest that does not match is 422 ERR_INTEGRITY_MISMATCH, nothing stored, an error recorded", async () => {
    const response = await as("POST", "/v1/items?case=DIG", {
      body: "some bytes",
      headers: { ...octets, "x-custody-sha256": "0".repeat(64) },
    });
    expect(response.status).toBe(422);
    expect(response.json()).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    await nothingStored("DIG");
    const records = await auditRecords(served);
    expect(
      records.find((r) => r.details.requestId === response.headers["x-request-id"] && r.outcome === "error"),
    ).toBeDefined();
  });

  it("a client that disconnects mid-upload leaves nothing stored and an error record", async () => {
    const before = (await auditRecords(served)).length;
    await new Promise<void>((resolve) => {
      const req = request(new URL("/v1/items?case=GONE", served.url), {
        method: "POST",
        headers: { ...octets, "content-length": String(100_000) },
        ca: served.ca,
        cert: served.alice.cert,
        key: served.alice.key,
        agent: false,
      });
      req.on("error", () => resolve());
      req.on("close", () => resolve());
      req.write(Buffer.alloc(30_000), () => req.destroy());
    });
    const record = await eventually(
      async () =>
        (await auditRecords(served)).find(
          (r) => r.seq >= before && r.outcome === "error" && r.action === "evidence.ingest",
        ),
      "the error record of the abandoned upload",
    );
    expect(record.reason).toMatch(/ERR_ABORTED/);
    expect(record.details).toMatchObject({ clientAddress: "127.0.0.1" });
    await nothingStored("GONE");
  });

  it("an upload with another content-type is refused", async () => {
    const response = await as("POST", "/v1/items?case=TXT", {
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  });
});
