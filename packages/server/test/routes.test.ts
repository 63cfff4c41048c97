import { createHash } from "node:crypto";
import { openApiDocument, ROUTES, type RouteSpec } from "@custody/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { call, identityOf, type Served, serveVault } from "./helpers.js";

let served: Served;
const bytes = Buffer.from("evidence bytes for the server routes test\n");
const id = createHash("sha256").update(bytes).digest("hex");

/** Every answer the server gives must parse with the route's response schema (clients may validate with it). */
const answered: { route: RouteSpec; body: unknown }[] = [];

async function as(method: string, path: string, json?: unknown) {
  const response = await call(served.url, path, {
    method,
    identity: served.alice,
    ca: served.ca,
    ...(json === undefined ? {} : { json }),
  });
  const route = routeFor(method, new URL(path, served.url).pathname);
  if (route !== undefined && response.status < 300 && route.response !== "octet-stream") {
    answered.push({ route, body: response.json() });
  }
  return response;
}

function routeFor(method: string, pathname: string): RouteSpec | undefined {
  return (Object.values(ROUTES) as RouteSpec[]).find(
    (route) =>
      route.method === method && new RegExp(`^${route.path.replace(/:[A-Za-z]+/g, "[^/]+")}$`).test(pathname),
  );
}

beforeAll(async () => {
  served = await serveVault();
});
afterAll(async () => served.cleanup());

describe("every VaultApi method over HTTPS", () => {
  it("ingests a streamed upload (201) and answers with the item", async () => {
    const response = await call(
      served.url,
      "/v1/items?case=IR-7&name=notes.txt&label=host=pc1&retainDays=10",
      {
        method: "POST",
        identity: served.alice,
        ca: served.ca,
        body: bytes,
        headers: { "content-type": "application/octet-stream", "x-custody-sha256": id },
      },
    );
    expect(response.status, response.body.toString()).toBe(201);
    expect(response.json()).toMatchObject({
      id,
      caseId: "IR-7",
      name: "notes.txt",
      labels: { host: "pc1" },
      size: bytes.length,
    });
    expect((response.json() as { acquisition: { source: string } }).acquisition.source).toBe(
      "upload from 127.0.0.1",
    );
  });

  it("lists, shows and reads (with the digest headers) the item", async () => {
    const list = await as("GET", "/v1/items?case=IR-7&limit=10");
    expect(list.status).toBe(200);
    expect(list.json()).toMatchObject({ items: [{ id }] });
    expect((list.json() as { nextCursor?: string }).nextCursor).toBeUndefined();
    expect((await as("GET", `/v1/items/${id}?case=IR-7`)).json()).toMatchObject({ id, legalHold: false });
    const read = await as("GET", `/v1/items/${id.slice(0, 12)}/content`);
    expect(read.status).toBe(200);
    expect(read.body.equals(bytes)).toBe(true);
    expect(read.headers["x-custody-sha256"]).toBe(id);
    expect(read.headers["content-length"]).toBe(String(bytes.length));
    const item = JSON.parse(
      Buffer.from(String(read.headers["x-custody-item"]), "base64url").toString("utf8"),
    );
    expect(item).toMatchObject({ id, caseId: "IR-7" });
  });

  it("holds, extends retention, releases, checks and reports", async () => {
    expect((await as("POST", `/v1/items/${id}/hold`)).json()).toMatchObject({ legalHold: true });
    const until = new Date(Date.now() + 400 * 86_400_000).toISOString();
    expect((await as("POST", `/v1/items/${id}/retention`, { until })).json()).toMatchObject({
      retainUntil: until,
    });
    expect((await as("POST", `/v1/items/${id}/release`, {})).json()).toMatchObject({ status: "done" });
    expect((await as("POST", `/v1/items/${id}/check`)).json()).toEqual([
      expect.objectContaining({ id, ok: true }),
    ]);
    expect((await as("POST", "/v1/check")).json()).toEqual([expect.objectContaining({ id, ok: true })]);
    const purge = await as("POST", `/v1/items/${id}/purge`);
    expect(purge.status).toBe(409);
    expect(purge.json()).toMatchObject({ code: "ERR_IMMUTABLE", type: "urn:custody:error:ERR_IMMUTABLE" });
    const report = await as("GET", `/v1/items/${id}/report`);
    expect(report.json()).toMatchObject({
      report: { format: "custody.report/v2" },
      signature: expect.any(String),
    });
  });

  it("manages access and identities", async () => {
    const issued = await as("POST", "/v1/identities", { name: "carol", kind: "person" });
    expect(issued.status).toBe(201);
    const carol = identityOf((issued.json() as { identityPem: string }).identityPem);
    const grant = await as("POST", "/v1/access/grants", {
      name: "carol",
      role: "investigator",
      scope: "case:IR-7",
    });
    expect(grant.json()).toMatchObject({ status: "done" });
    const listing = await as("GET", "/v1/access");
    expect(listing.json()).toMatchObject({
      custodians: ["alice"],
      grants: expect.arrayContaining([expect.objectContaining({ principal: "carol" })]),
    });
    const whoami = await call(served.url, "/v1/whoami", { identity: carol, ca: served.ca });
    expect(whoami.json()).toMatchObject({
      id: "carol",
      kind: "person",
      grants: [expect.objectContaining({ role: "investigator" })],
    });
    const revoke = await as("POST", "/v1/access/revocations", {
      name: "carol",
      role: "investigator",
      scope: "case:IR-7",
    });
    expect(revoke.json()).toMatchObject({ status: "done" });
    const denied = await call(served.url, `/v1/items/${id}`, { identity: carol, ca: served.ca });
    expect(denied.status).toBe(403);
    expect(denied.json()).toMatchObject({ code: "ERR_ACCESS_DENIED" });
    const gone = await as("DELETE", "/v1/identities/carol");
    expect(gone.json()).toMatchObject({ status: "done" });
    const approval = await as("POST", "/v1/approvals/no-such-request");
    expect(approval.status).toBeGreaterThanOrEqual(400);
  });

  it("serves the audit log: checkpoint, verify (with known checkpoints), show, prove, and rotates the signer", async () => {
    const checkpoint = await as("POST", "/v1/audit/checkpoints");
    expect(checkpoint.status).toBe(201);
    const signed = checkpoint.json() as { checkpoint: { treeSize: number }; signature: string };
    expect(signed.signature).toMatch(/^[A-Za-z0-9+/=]+$/);
    const verify = await as("POST", "/v1/audit/verify", { knownCheckpoints: [signed] });
    expect(verify.json()).toMatchObject({ ok: true });
    const records = await as("GET", "/v1/audit?since=2");
    expect((records.json() as { seq: number }[])[0]?.seq).toBe(2);
    const proof = await as("GET", "/v1/audit/proofs/1");
    expect(proof.json()).toMatchObject({ record: { seq: 1 }, proof: expect.any(Array) });
    const rotation = await as("POST", "/v1/keys/rotations");
    expect(rotation.status).toBe(201);
    expect(rotation.json()).toMatchObject({ serialNumber: expect.any(String) });
  });

  it("answers /healthz, /readyz and /openapi.json without saying anything about the vault", async () => {
    expect((await as("GET", "/healthz")).json()).toEqual({ status: "ok" });
    expect((await as("GET", "/readyz")).json()).toEqual({ status: "ok" });
    const doc = await as("GET", "/openapi.json");
    expect(doc.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it("answered every JSON request with a body its route's response schema accepts", () => {
    expect(answered.length).toBeGreaterThan(15);
    for (const { route, body } of answered) {
      const parsed = (route.response as z.ZodType).safeParse(body);
      expect(parsed.success, `${route.operation}: ${JSON.stringify(parsed.error?.issues[0])}`).toBe(true);
    }
  });

  it("pages a listing with a cursor", async () => {
    for (const n of [1, 2, 3]) {
      const response = await call(served.url, `/v1/items?case=IR-8&name=f${n}`, {
        method: "POST",
        identity: served.alice,
        ca: served.ca,
        body: `file ${n}`,
        headers: { "content-type": "application/octet-stream" },
      });
      expect(response.status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (
        await as("GET", `/v1/items?case=IR-8&limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`)
      ).json() as {
        items: { id: string }[];
        nextCursor?: string;
      };
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });
});
