import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Worker } from "node:worker_threads";
import { createVaultClient, parseTlsIdentity } from "@custody/client";
import { isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Handler, makePki, type Pki, sendJson, startServer } from "./tls-fixture.js";

let pki: Pki;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki();
});

afterAll(async () => {
  for (const close of closers) await close();
  pki.cleanup();
});

async function serve(handler: Handler, names = "IP:127.0.0.1", issuer = pki.ca) {
  const server = await startServer(pki.serverFor(names, issuer), pki.ca.certificatePem, handler);
  closers.push(server.close);
  return server;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCustodyError(error) ? error.code : String(error);
}

const ALICE = { id: "alice", kind: "person", fingerprintSha256: "f", serialNumber: "1", grants: [] };
const whoami: Handler = (_req, res) => sendJson(res, 200, ALICE);

const drain = (stream: NodeJS.ReadableStream) =>
  pipeline(stream, new Writable({ write: (_chunk, _encoding, done) => done() }));

describe("the client trusts only the vault's server", () => {
  it("refuses a server whose certificate comes from another CA, and accepts it under --ca", async () => {
    const { createCertificateAuthority } = await import("@custody/manifest");
    const otherCa = await createCertificateAuthority({ commonName: "another CA", keyBits: 2048 });
    let served = 0;
    const { url } = await serve(
      (req, res) => {
        served += 1;
        whoami(req, res);
      },
      "IP:127.0.0.1",
      otherCa,
    );
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    await expect(client.whoami()).rejects.toMatchObject({
      code: "ERR_UNTRUSTED_SIGNER",
      message: expect.stringContaining("not issued by the vault CA"),
    });
    client.close();
    expect(served).toBe(0);
    const anchored = createVaultClient({
      baseUrl: url,
      identityPem: pki.identityPem,
      caPem: otherCa.certificatePem,
    });
    expect(await anchored.whoami()).toEqual(ALICE);
    anchored.close();
  });

  it("refuses a server certificate issued by the vault CA for another name", async () => {
    const { url } = await serve(whoami, "DNS:other.example,IP:10.0.0.1");
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    await expect(client.whoami()).rejects.toMatchObject({
      code: "ERR_UNTRUSTED_SIGNER",
      message: expect.stringContaining("is not for"),
    });
    client.close();
  });

  it("takes as the caller the certificate that matches the key, and the other certificates as trust anchors", () => {
    const blocks = [...pki.identityPem.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g)].map(
      (m) => m[0],
    );
    const [leaf, key, ca] = blocks as [string, string, string];
    // The CA certificate first: position does not make it the caller.
    const parsed = parseTlsIdentity(`${ca}\n${key}\n${leaf}\n`);
    expect(parsed.certificatePem).toBe(leaf);
    expect(parsed.trustAnchorsPem).toEqual([ca]);
    expect(() => parseTlsIdentity(`${ca}\n${key}\n`)).toThrow(
      expect.objectContaining({ code: "ERR_IDENTITY_INVALID" }),
    );
  });

  it("refuses an identity file without a CA certificate unless --ca is given", () => {
    const bare = pki.identityPem.slice(0, pki.identityPem.lastIndexOf("-----BEGIN CERTIFICATE-----"));
    expect(() => createVaultClient({ baseUrl: "https://127.0.0.1:1", identityPem: bare })).toThrow(
      expect.objectContaining({ code: "ERR_USAGE" }),
    );
  });

  it("refuses a plain http:// or credential-bearing server address", () => {
    for (const baseUrl of ["http://127.0.0.1:1", "https://u:p@127.0.0.1:1"])
      expect(() => createVaultClient({ baseUrl, identityPem: pki.identityPem })).toThrow(
        expect.objectContaining({ code: "ERR_USAGE" }),
      );
  });
});

describe("the client's kept-alive connections", () => {
  it("closes an idle one itself before a server would, so a POST never goes out on a connection being closed", async () => {
    const server = await serve(whoami);
    server.server.keepAliveTimeout = 60_000; // this server would keep it: only the client's limit closes it
    let connections = 0;
    server.server.on("secureConnection", () => {
      connections += 1;
    });
    const client = createVaultClient({ baseUrl: server.url, identityPem: pki.identityPem });
    try {
      await client.whoami();
      await client.whoami();
      expect(connections).toBe(1); // reused while busy
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      await client.whoami();
      expect(connections).toBe(2);
    } finally {
      client.close();
    }
  }, 30_000);

  it("does not reuse one the server closed while the caller's event loop was blocked, so a POST still goes through", async () => {
    // The server runs on its own thread, so it closes the idle connection while this thread is blocked,
    // as `custody serve` does while a test or a tool waits on a child process synchronously.
    const cert = pki.serverFor("IP:127.0.0.1");
    const worker = new Worker(KEEP_ALIVE_SERVER, {
      eval: true,
      workerData: { ...cert, ca: pki.ca.certificatePem, keepAliveMs: 5_000 },
    });
    const url = await new Promise<string>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    try {
      await client.setLiveResponse(true);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 7_000); // blocked, as by spawnSync
      await expect(client.setLiveResponse(false)).resolves.toMatchObject({ enabled: true });
    } finally {
      client.close();
      await worker.terminate();
    }
  }, 30_000);
});

const KEEP_ALIVE_SERVER = `
const { parentPort, workerData } = require("node:worker_threads");
const { createServer } = require("node:https");
const server = createServer(
  { cert: workerData.certificatePem, key: workerData.keyPem, ca: [workerData.ca], requestCert: true, minVersion: "TLSv1.3" },
  (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ enabled: true }));
    });
  },
);
server.keepAliveTimeout = workerData.keepAliveMs;
server.listen(0, "127.0.0.1", () => parentPort.postMessage("https://127.0.0.1:" + server.address().port));
`;

describe("the client never trusts the server's bytes", () => {
  const good = Buffer.from("the evidence as ingested\n");
  const id = createHash("sha256").update(good).digest("hex");
  const item = { id, caseId: "A", size: good.length };

  function contentServer(body: Buffer, claimed = item) {
    return serve((_req, res) => {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": body.length,
        "x-custody-sha256": claimed.id,
        "x-custody-item": Buffer.from(JSON.stringify(claimed)).toString("base64url"),
      });
      res.end(body);
    });
  }

  it("reads and verifies the bytes it was sent", async () => {
    const { url } = await contentServer(good);
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    const read = await client.read(id);
    await drain(read.stream);
    expect(read.computedSha256()).toBe(id);
    client.close();
  });

  it("errors with ERR_INTEGRITY_MISMATCH when the bytes do not hash to the id, whatever the headers say", async () => {
    const forged = Buffer.from(good);
    forged[0] = (forged[0] ?? 0) ^ 1;
    const { url } = await contentServer(forged);
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    const read = await client.read(id);
    expect(await codeOf(drain(read.stream))).toBe("ERR_INTEGRITY_MISMATCH");
    expect(read.computedSha256()).toBeUndefined();
    client.close();
  });

  it("refuses an answer about another item than the one asked for", async () => {
    const other = { ...item, id: "f".repeat(64) };
    const { url } = await contentServer(good, other);
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    expect(await codeOf(client.read(id))).toBe("ERR_INTEGRITY_MISMATCH");
    client.close();
  });

  it("errors when the server cuts the content short", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, {
        "content-length": good.length,
        "x-custody-sha256": id,
        "x-custody-item": Buffer.from(JSON.stringify(item)).toString("base64url"),
      });
      res.write(good.subarray(0, 5), () => res.destroy());
    });
    const client = createVaultClient({ baseUrl: url, identityPem: pki.identityPem });
    const read = await client.read(id);
    expect(await codeOf(drain(read.stream))).toBe("ERR_INTEGRITY_MISMATCH");
    client.close();
  });
});
