import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { Clock } from "@custody/core";
import { Vault } from "@custody/vault";
import { type CustodyServer, type ServerOptions, startServer } from "../src/index.js";

export interface Served {
  dir: string;
  vaultDir: string;
  vault: Vault;
  server: CustodyServer;
  alice: Identity;
  ca: string;
  url: string;
  cleanup(): Promise<void>;
}

export interface Identity {
  cert: string;
  key: string;
}

export function identityOf(pem: string): Identity {
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const key =
    /-----BEGIN (?:ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:ENCRYPTED )?PRIVATE KEY-----/.exec(
      pem,
    )?.[0];
  if (cert === undefined || key === undefined) throw new Error("not an identity bundle");
  return { cert, key };
}

/** A fresh vault (2048-bit keys for speed) served on 127.0.0.1 at a free port. */
export async function serveVault(
  options: Partial<Omit<ServerOptions, "vault">> & { initClock?: Clock } = {},
): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), "custody-server-"));
  const vaultDir = join(dir, "vault");
  const initClock = options.initClock ?? options.clock;
  const created = await Vault.init(vaultDir, {
    custodian: "alice",
    keyBits: 2048,
    ...(initClock === undefined ? {} : { clock: initClock }),
  });
  const { identityPem } = created;
  let vault = created.vault;
  if (initClock !== options.clock) {
    // made in the past, served now: open it again with the server's clock
    await vault.close();
    vault = await Vault.open({
      dir: vaultDir,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }
  const server = await startServer({ names: ["localhost", "127.0.0.1"], port: 0, ...options, vault }).catch(
    async (error: unknown) => {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    },
  );
  const ca = vault.trustAnchors[0] ?? "";
  const url = server.urls[0] ?? "";
  return {
    dir,
    vaultDir,
    vault,
    server,
    alice: identityOf(identityPem),
    ca,
    url,
    cleanup: async () => {
      await server.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): unknown;
}

export interface CallOptions {
  method?: string;
  identity?: Identity | undefined;
  ca: string;
  json?: unknown;
  body?: Buffer | string | Readable;
  headers?: Record<string, string>;
  agent?: Agent;
}

/** One HTTPS request with the caller's certificate; resolves with the whole response. */
export function call(url: string, path: string, options: CallOptions): Promise<Response> {
  const target = new URL(path, url);
  const headers: Record<string, string> = { ...options.headers };
  let payload: Buffer | string | Readable | undefined = options.body;
  if (options.json !== undefined) {
    payload = typeof options.json === "string" ? options.json : JSON.stringify(options.json);
    headers["content-type"] ??= "application/json";
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(target, {
      method: options.method ?? "GET",
      headers,
      ca: options.ca,
      ...(options.identity === undefined ? {} : { cert: options.identity.cert, key: options.identity.key }),
      ...(options.agent === undefined ? { agent: false } : { agent: options.agent }),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body.toString("utf8")),
        });
      });
    });
    if (payload === undefined) req.end();
    else if (typeof payload === "string" || Buffer.isBuffer(payload)) req.end(payload);
    else payload.pipe(req);
  });
}

/** A keep-alive agent holding one connection for the identity. */
export function keepAliveAgent(identity: Identity, ca: string): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1, cert: identity.cert, key: identity.key, ca });
}

export interface AuditLine {
  seq: number;
  actor: string;
  action: string;
  outcome: string;
  reason: string;
  details: Record<string, unknown>;
}

/** The audit log as alice reads it through the server. */
export async function auditRecords(served: Served): Promise<AuditLine[]> {
  const response = await call(served.url, "/v1/audit", { identity: served.alice, ca: served.ca });
  if (response.status !== 200) throw new Error(`audit read failed: ${response.status} ${response.body}`);
  return response.json() as AuditLine[];
}

/** Polls until `check` holds (an event the server handles after the client saw its side). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}
