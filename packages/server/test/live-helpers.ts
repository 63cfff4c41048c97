import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AGENT_SUBPROTOCOL,
  decodeFrame,
  encodeFrame,
  type FrameBodies,
  type ServerFrame,
} from "@custody/agent/protocol";
import WebSocket from "ws";
import { call, type Identity, type Served } from "./helpers.js";

const run = promisify(execFile);
export const FACTS = { hostname: "ws-017", os: "linux", arch: "x64", agentVersion: "0.1.0" };

/** A device key made with openssl (as a device would: RSA-3072, or EC P-256) and its PKCS#10 request. */
export async function deviceRequest(dir: string, name: string, key: "rsa" | "p256" = "rsa") {
  const keyArgs =
    key === "rsa" ? ["-newkey", "rsa:3072"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  await run(
    "openssl",
    ["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=x"],
    { cwd: dir },
  );
  return {
    csrPem: await readFile(join(dir, `${name}.csr`), "utf8"),
    keyPem: await readFile(join(dir, `${name}.key`), "utf8"),
  };
}

/** A token made by alice through the server. */
export async function enrollmentToken(served: Served, body: object = {}): Promise<string> {
  const response = await call(served.url, "/v1/enrollment-tokens", {
    method: "POST",
    identity: served.alice,
    ca: served.ca,
    json: body,
  });
  if (response.status !== 201) throw new Error(`token: ${response.status} ${response.body}`);
  return (response.json() as { token: string }).token;
}

/** Enrolls a new device over HTTPS without a client certificate; its identity for the agent endpoint. */
export async function enrolledDevice(
  served: Served,
  name: string,
  key: "rsa" | "p256" = "rsa",
): Promise<Identity & { deviceId: string }> {
  const { csrPem, keyPem } = await deviceRequest(served.dir, name, key);
  const token = await enrollmentToken(served);
  const response = await call(served.url, "/v1/enroll", {
    method: "POST",
    ca: served.ca,
    json: { token, csrPem, facts: FACTS },
  });
  if (response.status !== 201) throw new Error(`enroll: ${response.status} ${response.body}`);
  const enrolled = response.json() as { deviceId: string; certificatePem: string };
  return { deviceId: enrolled.deviceId, cert: enrolled.certificatePem, key: keyPem };
}

/** A test agent: a real WebSocket over TLS with the device certificate, frames numbered as the protocol wants. */
export class TestAgent {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly frames: ServerFrame[] = [];
  #seq = 1;
  #waiters: (() => void)[] = [];

  constructor(
    served: Served,
    identity: Identity | undefined,
    options: { protocol?: string; path?: string } = {},
  ) {
    this.ws = new WebSocket(
      `wss://127.0.0.1:${served.server.port}${options.path ?? "/v1/agent"}`,
      options.protocol ?? AGENT_SUBPROTOCOL,
      {
        ca: served.ca,
        ...(identity === undefined ? {} : { cert: identity.cert, key: identity.key }),
        servername: "localhost",
      },
    );
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_request, response) =>
        reject(new Error(`HTTP ${response.statusCode}`)),
      );
      this.ws.once("error", reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.opened.catch(() => {});
    this.ws.on("error", () => {});
    this.ws.on("message", (data: Buffer) => {
      this.frames.push(decodeFrame(data, { from: "server" }) as ServerFrame);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  send<T extends "hello" | "ack" | "rows" | "result">(type: T, body: FrameBodies[T]): void {
    this.ws.send(encodeFrame(type, body, { seq: this.#seq++ }));
  }

  raw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Waits for the next server frame of `type` (or the socket to close: then it throws). */
  async next<T extends ServerFrame["t"]>(type: T): Promise<Extract<ServerFrame, { t: T }>> {
    for (;;) {
      const found = this.frames.find((frame) => frame.t === type);
      if (found !== undefined) {
        this.frames.splice(this.frames.indexOf(found), 1);
        return found as Extract<ServerFrame, { t: T }>;
      }
      const woke = new Promise<void>((resolve) => this.#waiters.push(resolve));
      const result = await Promise.race([woke.then(() => "frame"), this.closed.then(() => "closed")]);
      if (result === "closed" && !this.frames.some((frame) => frame.t === type)) {
        throw new Error(`closed before a ${type} frame`);
      }
    }
  }

  /** hello, then the welcome's nonce. */
  async hello(deviceId: string, prevNonce: string | null): Promise<string> {
    await this.opened;
    this.send("hello", {
      deviceId,
      agentVersion: "0.1.0",
      hostname: "ws-017",
      os: "linux",
      arch: "x64",
      policyHash: "0".repeat(64),
      prevNonce,
      capabilities: ["dir"],
    });
    return (await this.next("welcome")).body.nonce;
  }

  close(): void {
    this.ws.terminate();
  }
}
