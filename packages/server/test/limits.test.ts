import { readdir } from "node:fs/promises";
import { request } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditRecords, call, eventually, identityOf, type Served, serveVault } from "./helpers.js";

describe("idle connections and slowloris clients do not starve a real one", () => {
  let served: Served;
  const sockets: (Socket | TLSSocket)[] = [];

  beforeAll(async () => {
    served = await serveVault({
      limits: { headersTimeoutMs: 2_000, requestBodyTimeoutMs: 2_000, maxConnections: 400 },
    });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await served.cleanup();
  });

  function port(): number {
    return Number(new URL(served.url).port);
  }

  async function tlsSlowloris(): Promise<TLSSocket> {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: port(),
      ca: served.ca,
      cert: served.alice.cert,
      key: served.alice.key,
      servername: "localhost",
    });
    sockets.push(socket);
    socket.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    socket.write("GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\n");
    // read what the server says (its 408) so that the socket's close is seen
    socket.resume();
    return socket;
  }

  it("200 idle TCP connections, 20 slowloris clients and a slow JSON body, then a real request succeeds", async () => {
    for (let n = 0; n < 200; n += 1) {
      const socket = netConnect({ host: "127.0.0.1", port: port() });
      socket.on("error", () => {});
      sockets.push(socket);
    }
    const slow = await Promise.all(Array.from({ length: 20 }, () => tlsSlowloris()));
    const closed = Promise.all(
      slow.map((socket) => new Promise<void>((resolve) => socket.once("close", () => resolve()))),
    );
    const response = await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca });
    expect(response.status).toBe(200);
    // the slowloris clients never finish their headers: the server closes them (headers timeout)
    await closed;
  });

  it("a JSON body that never finishes is cut, and the server keeps serving", async () => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: port(),
      ca: served.ca,
      cert: served.alice.cert,
      key: served.alice.key,
      servername: "localhost",
    });
    socket.on("error", () => {});
    socket.resume();
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    socket.write(
      "POST /v1/access/grants HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const response = await call(served.url, "/healthz", { identity: served.alice, ca: served.ca });
    expect(response.status).toBe(200);
  });
});

describe("per-identity rate and concurrent uploads", () => {
  let served: Served;

  beforeAll(async () => {
    served = await serveVault({ limits: { requestsPerSecond: 1, requestBurst: 3, maxConcurrentUploads: 0 } });
  });
  afterAll(async () => served.cleanup());

  it("answers 429 ERR_RATE_LIMITED with Retry-After once an identity spends its burst", async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let n = 0; n < 6; n += 1) {
      const response = await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(limited?.json()).toMatchObject({ code: "ERR_RATE_LIMITED", status: 429 });
    expect(Number(limited?.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  });
});

describe("concurrent uploads", () => {
  it("answers 503 ERR_SERVER_BUSY when the upload slots are taken", async () => {
    const served = await serveVault({ limits: { maxConcurrentUploads: 0 } });
    try {
      const response = await call(served.url, "/v1/items?case=C", {
        method: "POST",
        identity: served.alice,
        ca: served.ca,
        body: "x",
        headers: { "content-type": "application/octet-stream" },
      });
      expect(response.status).toBe(503);
      expect(response.json()).toMatchObject({ code: "ERR_SERVER_BUSY" });
    } finally {
      await served.cleanup();
    }
  });
});

describe("an upload slower than the minimum rate", () => {
  it("is cut, nothing is stored, and the failure is recorded", async () => {
    const served = await serveVault({
      limits: { uploadRateWindowMs: 300, uploadMinBytesPerWindow: 1024 * 1024 },
    });
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = request(new URL("/v1/items?case=SLOW", served.url), {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "content-length": String(10 * 1024 * 1024) },
          ca: served.ca,
          cert: served.alice.cert,
          key: served.alice.key,
          agent: false,
        });
        req.on("response", (res) => {
          res.resume();
          resolve(String(res.statusCode));
        });
        req.on("error", (error) => resolve(error.message));
        req.write(Buffer.alloc(1024));
      });
      expect(outcome).not.toBe("201");
      const records = await eventually(async () => {
        const audit = await call(served.url, "/v1/audit", { identity: served.alice, ca: served.ca });
        const found = (audit.json() as { outcome: string; action: string; reason: string }[]).filter(
          (r) => r.outcome === "error" && r.action === "evidence.ingest",
        );
        return found.length > 0 ? found : undefined;
      }, "the error record of the slow upload");
      expect(records[0]?.reason).toMatch(/ERR_TIMEOUT/);
      const listed = await call(served.url, "/v1/items?case=SLOW", { identity: served.alice, ca: served.ca });
      expect((listed.json() as { items: unknown[] }).items).toEqual([]);
    } finally {
      await served.cleanup();
    }
  });
});

describe("the connection cap", () => {
  it("closes connections past maxConnections before TLS, and serves again once they go", async () => {
    const served = await serveVault({ limits: { maxConnections: 3 } });
    const held: Socket[] = [];
    try {
      for (let n = 0; n < 3; n += 1) {
        const socket = netConnect({ host: "127.0.0.1", port: served.server.port });
        socket.on("error", () => {});
        await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
        held.push(socket);
      }
      await expect(call(served.url, "/healthz", { identity: served.alice, ca: served.ca })).rejects.toThrow();
      for (const socket of held) socket.destroy();
      const response = await eventually(
        () => call(served.url, "/healthz", { identity: served.alice, ca: served.ca }).catch(() => undefined),
        "a connection accepted again",
      );
      expect(response.status).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
      await served.cleanup();
    }
  });
});

describe("an upload by a caller no grant allows to ingest into the case", () => {
  it("is refused with 403 before its body is read: nothing spooled or stored, the denial recorded", async () => {
    const served = await serveVault();
    try {
      const as = { identity: served.alice, ca: served.ca };
      const issued = await call(served.url, "/v1/identities", {
        ...as,
        method: "POST",
        json: { name: "rita" },
      });
      const rita = identityOf((issued.json() as { identityPem: string }).identityPem);
      const grant = { name: "rita", role: "responder", scope: "case:MINE" };
      await call(served.url, "/v1/access/grants", { ...as, method: "POST", json: grant });
      // 512 MiB announced, 1 KiB sent: an answer at all means the server did not wait for the body
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(new URL("/v1/items?case=OTHER", served.url), {
          method: "POST",
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(512 * 1024 * 1024),
          },
          ca: served.ca,
          cert: rita.cert,
          key: rita.key,
          agent: false,
        });
        req.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        });
        req.on("error", reject);
        req.write(Buffer.alloc(1024));
      });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "ERR_ACCESS_DENIED" });
      const denial = (await auditRecords(served)).find(
        (r) => r.action === "evidence.ingest" && r.outcome === "deny",
      );
      expect(denial).toMatchObject({ actor: "rita", details: expect.objectContaining({ bytesRead: 0 }) });
      expect(await readdir(join(served.vaultDir, "store", "tmp"))).toEqual([]);
    } finally {
      await served.cleanup();
    }
  });
});
