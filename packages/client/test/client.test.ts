import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PROBLEM_CONTENT_TYPE, problemFromError } from "@custody/api";
import { createVaultClient, type VaultClient } from "@custody/client";
import { CustodyError, isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Handler, makePki, type Pki, readBody, sendJson, startServer } from "./tls-fixture.js";

let pki: Pki;
const closers: (() => Promise<void>)[] = [];
const clients: VaultClient[] = [];

beforeAll(async () => {
  pki = await makePki();
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const close of closers) await close();
  pki.cleanup();
});

async function clientOf(handler: Handler): Promise<VaultClient> {
  const server = await startServer(pki.serverFor("IP:127.0.0.1"), pki.ca.certificatePem, handler);
  closers.push(server.close);
  const client = createVaultClient({ baseUrl: server.url, identityPem: pki.identityPem });
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<CustodyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCustodyError(error)) throw new Error(`expected a CustodyError, got ${String(error)}`);
  return error;
}

const item = (bytes: Buffer, caseId = "A") => ({
  format: "custody.item/v1",
  id: createHash("sha256").update(bytes).digest("hex"),
  kind: "file",
  caseId,
  name: "a.bin",
  labels: {},
  size: bytes.length,
  digests: { sha256: createHash("sha256").update(bytes).digest("hex") },
  acquisition: {},
  legalHold: false,
  storedAt: "2026-12-06T00:00:00.000Z",
});

describe("createVaultClient", () => {
  it("presents the identity's certificate and gets the server's JSON as the VaultApi value", async () => {
    let peer = "";
    const client = await clientOf((req, res) => {
      peer = (req.socket as import("node:tls").TLSSocket).getPeerX509Certificate()?.subject ?? "";
      sendJson(res, 200, {
        id: "alice",
        kind: "person",
        fingerprintSha256: "f",
        serialNumber: "1",
        grants: [],
      });
    });
    expect((await client.whoami()).id).toBe("alice");
    expect(peer).toContain("CN=alice");
  });

  it("rethrows a problem document as the vault's CustodyError: same code, same message", async () => {
    const denied = new CustodyError("ERR_ACCESS_DENIED", "mallory may not evidence.read item:A/x", {
      details: { action: "evidence.read" },
    });
    const client = await clientOf((_req, res) => {
      const problem = problemFromError(denied, "req-1");
      res.writeHead(problem.status, { "content-type": PROBLEM_CONTENT_TYPE });
      res.end(JSON.stringify(problem));
    });
    const error = await failure(client.show("a".repeat(64)));
    expect(error).toMatchObject({ code: "ERR_ACCESS_DENIED", message: denied.message });
    expect(error.details).toMatchObject({ action: "evidence.read", requestId: "req-1", status: 403 });
  });

  it("refuses an answer that is not what the route describes", async () => {
    const client = await clientOf((_req, res) => sendJson(res, 200, { id: 42 }));
    expect((await failure(client.show("a".repeat(64)))).code).toBe("ERR_BACKEND_UNAVAILABLE");
  });

  it("streams an upload with its length and checks the stored item against the digest it sent", async () => {
    const bytes = Buffer.from("evidence bytes\n".repeat(1000));
    const file = join(pki.work, "upload.bin");
    writeFileSync(file, bytes);
    let received = { url: "", length: "", type: "", sha256: "" };
    let lie = false;
    const client = await clientOf(async (req, res) => {
      const body = await readBody(req);
      received = {
        url: req.url ?? "",
        length: req.headers["content-length"] ?? "",
        type: req.headers["content-type"] ?? "",
        sha256: createHash("sha256").update(body).digest("hex"),
      };
      sendJson(res, 201, lie ? item(Buffer.from("other bytes")) : item(body));
    });
    const stored = await client.ingest(file, { caseId: "A", labels: { host: "pc-1" }, retainDays: 3 });
    expect(stored.id).toBe(received.sha256);
    expect(received).toMatchObject({ length: String(bytes.length), type: "application/octet-stream" });
    expect(received.url).toBe("/v1/items?case=A&name=upload.bin&retainDays=3&label=host%3Dpc-1");
    lie = true;
    expect((await failure(client.ingest(file, { caseId: "A" }))).code).toBe("ERR_INTEGRITY_MISMATCH");
  });

  it("follows list cursors and refuses a cursor handed back twice", async () => {
    const pages: Record<string, unknown> = {
      "": { items: [item(Buffer.from("1"))], nextCursor: "c1" },
      c1: { items: [item(Buffer.from("2"))], nextCursor: "c2" },
      c2: { items: [item(Buffer.from("3"))] },
      loop: { items: [], nextCursor: "loop" },
    };
    let loop = false;
    const client = await clientOf((req, res) => {
      const cursor = new URL(req.url ?? "", "https://x").searchParams.get("cursor") ?? (loop ? "loop" : "");
      sendJson(res, 200, pages[cursor]);
    });
    expect((await client.list()).map((i) => i.id)).toHaveLength(3);
    loop = true;
    expect((await failure(client.list())).code).toBe("ERR_BACKEND_UNAVAILABLE");
  });
});

describe("retries", () => {
  it("repeats a GET whose connection failed, never a POST that reached the server", async () => {
    let seen = 0;
    let drop = true;
    const client = await clientOf((req, res) => {
      if (req.url === "/healthz") return sendJson(res, 200, { status: "ok" }); // the identity is fine
      seen += 1;
      if (drop) {
        drop = req.method !== "GET"; // a GET is dropped once, a POST always
        req.socket.destroy();
        return;
      }
      sendJson(res, 200, {
        id: "alice",
        kind: "person",
        fingerprintSha256: "f",
        serialNumber: "1",
        grants: [],
      });
    });
    expect((await client.whoami()).id).toBe("alice");
    expect(seen).toBe(2);
    seen = 0;
    drop = true;
    expect((await failure(client.hold("a".repeat(64)))).code).toBe("ERR_BACKEND_UNAVAILABLE");
    expect(seen).toBe(1);
  });

  it("waits and repeats a request the server refused unprocessed (rate limit, busy), as Retry-After says", async () => {
    const bytes = Buffer.from("retry me\n");
    const file = join(pki.work, "retry.bin");
    writeFileSync(file, bytes);
    let calls = 0;
    const client = await clientOf(async (req, res) => {
      calls += 1;
      if (calls === 1) {
        const problem = problemFromError(new CustodyError("ERR_SERVER_BUSY", "too many uploads"), "r1");
        res.writeHead(503, { "content-type": PROBLEM_CONTENT_TYPE, "retry-after": "1", connection: "close" });
        return res.end(JSON.stringify(problem));
      }
      sendJson(res, 201, item(await readBody(req)));
    });
    expect((await client.ingest(file, { caseId: "A" })).size).toBe(bytes.length);
    expect(calls).toBe(2);
  });

  it("reports a server that closes every new connection after the handshake as refusing the identity", async () => {
    let requests = 0;
    const server = await startServer(pki.serverFor("IP:127.0.0.1"), pki.ca.certificatePem, () => {
      requests += 1;
    });
    closers.push(server.close);
    // As Node's TLS server does when its own certificate checks (the CRL) refuse the client.
    server.server.prependListener("secureConnection", (socket) => socket.destroy());
    const client = createVaultClient({ baseUrl: server.url, identityPem: pki.identityPem });
    clients.push(client);
    const error = await failure(client.hold("a".repeat(64)));
    expect(error).toMatchObject({
      code: "ERR_IDENTITY_INVALID",
      message: expect.stringContaining("revoked"),
    });
    expect(requests).toBe(0);
  });

  it("stops any call when the client's abortSignal fires, with ERR_ABORTED", async () => {
    let asked: () => void = () => {};
    const reached = new Promise<void>((resolve) => (asked = resolve));
    const server = await startServer(pki.serverFor("IP:127.0.0.1"), pki.ca.certificatePem, () => asked());
    closers.push(server.close);
    const controller = new AbortController();
    const client = createVaultClient({
      baseUrl: server.url,
      identityPem: pki.identityPem,
      abortSignal: controller.signal,
    });
    clients.push(client);
    const pending = failure(client.listAccess()); // the server never answers
    await reached;
    controller.abort();
    expect((await pending).code).toBe("ERR_ABORTED");
  });

  it("stops a read when its abortSignal fires, with ERR_ABORTED", async () => {
    const bytes = Buffer.alloc(4 * 1024 * 1024, 7);
    const described = item(bytes);
    const client = await clientOf((_req, res) => {
      res.writeHead(200, {
        "content-length": bytes.length,
        "x-custody-sha256": described.id,
        "x-custody-item": Buffer.from(JSON.stringify(described)).toString("base64url"),
      });
      res.write(bytes.subarray(0, 1024)); // then nothing more: only the abort ends this read
    });
    const controller = new AbortController();
    const read = await client.read(described.id, { abortSignal: controller.signal });
    const sink = new Writable({
      write: (_chunk, _encoding, done) => {
        controller.abort();
        done();
      },
    });
    expect((await failure(pipeline(read.stream, sink))).code).toBe("ERR_ABORTED");
  });
});
