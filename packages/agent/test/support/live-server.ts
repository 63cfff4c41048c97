import { execFile } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { createCertificateAuthority, type IssuedCertificate, issueCertificate } from "@custody/manifest";
import { WebSocket, WebSocketServer } from "ws";
import {
  AGENT_SUBPROTOCOL,
  type AgentFrame,
  decodeFrame,
  encodeFrame,
  type FrameBodies,
  SequenceChecker,
  SequenceCounter,
  type ServerFrameType,
} from "../../src/protocol.js";

const run = promisify(execFile);

/** One agent connection as the test server sees it: every frame it sent, and a way to answer. */
export class AgentLink {
  readonly frames: AgentFrame[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly #out = new SequenceCounter();
  readonly #in = new SequenceChecker();
  closed: { code: number; reason: string } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly peerCn: string,
  ) {
    ws.on("message", (data) => {
      const frame = decodeFrame(data as Buffer, { from: "agent" }) as AgentFrame;
      this.#in.accept(frame.seq);
      this.frames.push(frame);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  send<T extends ServerFrameType>(type: T, body: FrameBodies[T], seq = this.#out.next()): void {
    this.ws.send(encodeFrame(type, body, { seq }));
  }

  /** Waits until a frame matching `match` has arrived (or the socket closed). */
  async waitFor<T extends AgentFrame>(match: (frame: AgentFrame) => frame is T, from?: number): Promise<T>;
  async waitFor(match: (frame: AgentFrame) => boolean): Promise<AgentFrame>;
  async waitFor(match: (frame: AgentFrame) => boolean, from?: number): Promise<AgentFrame>;
  async waitFor(match: (frame: AgentFrame) => boolean, from = 0): Promise<AgentFrame> {
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.closed !== undefined)
        throw new Error(`the agent closed the socket: ${this.closed.code} ${this.closed.reason}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    while (this.closed === undefined) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.closed;
  }

  result(cmdId: string) {
    return this.waitFor(
      (f): f is Extract<AgentFrame, { t: "result" }> => f.t === "result" && f.body.cmdId === cmdId,
    );
  }

  ack(cmdId: string, from = 0) {
    return this.waitFor(
      (f): f is Extract<AgentFrame, { t: "ack" }> => f.t === "ack" && f.body.cmdId === cmdId,
      from,
    );
  }
}

export interface Transfer {
  sha256: string;
  bytes: number;
  complete: boolean;
  /** The request's connection went away (the agent stopped sending). */
  closed?: boolean;
}

/**
 * A small real server in the contract's shape (TLS 1.3, mTLS under a test vault CA, POST /v1/enroll,
 * WSS /v1/agent, PUT /v1/agent/transfers/:id) so the agent is tested over the wire it will meet.
 * Device certificates are issued from the agent's CSR by `openssl x509 -req`.
 */
export class LiveTestServer {
  readonly links: AgentLink[] = [];
  readonly transfers = new Map<string, Transfer>();
  readonly tokenSecret = randomBytes(32).toString("base64url");
  /** Transfers the server accepts but never answers (a stalled upload, to cancel). */
  readonly stall = new Set<string>();
  #linkWaiters: (() => void)[] = [];

  private constructor(
    readonly ca: IssuedCertificate,
    readonly dir: string,
    readonly server: Server,
    readonly wss: WebSocketServer,
  ) {}

  static async start(options: { chain: boolean }): Promise<LiveTestServer> {
    const dir = await mkdtemp(join(tmpdir(), "agent-server-"));
    const ca = await createCertificateAuthority({ commonName: "Test Vault CA" });
    const leaf = await issueCertificate(ca, {
      commonName: "localhost",
      usage: "server",
      subjectAltNames: ["127.0.0.1", "localhost"],
    });
    await writeFile(join(dir, "ca.pem"), ca.certificatePem);
    await writeFile(join(dir, "ca.key"), ca.keyPem, { mode: 0o600 });
    const server = createServer({
      key: leaf.keyPem,
      // OpenSSL completes the server's chain from `ca`: without it only the leaf is presented.
      cert: leaf.certificatePem,
      ...(options.chain ? { ca: [ca.certificatePem] } : {}),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: 1024 * 1024,
      handleProtocols: (p) => (p.has(AGENT_SUBPROTOCOL) ? AGENT_SUBPROTOCOL : false),
    });
    const live = new LiveTestServer(ca, dir, server, wss);
    server.on("request", (req, res) => {
      live.#route(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ code: "ERR_INTERNAL", detail: String(error) }));
      });
    });
    server.on("upgrade", (req, socket, head) => {
      const tls = socket as TLSSocket;
      if (req.url !== "/v1/agent" || !tls.authorized) {
        socket.destroy();
        return;
      }
      const cn = String(tls.getPeerCertificate().subject?.CN ?? "");
      wss.handleUpgrade(req, socket, head, (ws) => {
        live.links.push(new AgentLink(ws, cn));
        for (const wake of live.#linkWaiters.splice(0)) wake();
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return live;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get caSha256(): string {
    return createHash("sha256").update(new X509Certificate(this.ca.certificatePem).raw).digest("hex");
  }

  token(caSha256 = this.caSha256): string {
    return `cet1.tok1.${this.tokenSecret}.${caSha256}`;
  }

  async nextLink(after: number): Promise<AgentLink> {
    while (this.links.length <= after) await new Promise<void>((resolve) => this.#linkWaiters.push(resolve));
    return this.links[after] as AgentLink;
  }

  async #route(
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
  ): Promise<void> {
    if (req.method === "POST" && req.url === "/v1/enroll") return this.#enroll(req, res);
    const transfer = /^\/v1\/agent\/transfers\/([\w.-]+)$/.exec(req.url ?? "");
    if (req.method === "PUT" && transfer !== null && (req.socket as TLSSocket).authorized)
      return this.#receive(transfer[1] as string, req, res);
    res.statusCode = 404;
    res.end(JSON.stringify({ code: "ERR_NOT_FOUND", detail: "no such route" }));
  }

  async #enroll(
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      token: string;
      csrPem: string;
      facts: Record<string, string>;
    };
    if (body.token !== this.token()) {
      res.statusCode = 401;
      res.end(JSON.stringify({ code: "ERR_ENROLLMENT_TOKEN_INVALID", detail: "unknown token" }));
      return;
    }
    const deviceId = `D-${"0123456789ABCDEFGHJKMNPQRS"
      .split("")
      .sort(() => Math.random() - 0.5)
      .join("")}`;
    const csr = join(this.dir, `${deviceId}.csr`);
    const ext = join(this.dir, `${deviceId}.ext`);
    await writeFile(csr, body.csrPem);
    await writeFile(
      ext,
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    // -verify checks the request's self-signature (proof of possession) the way a CA would.
    await run("openssl", ["req", "-in", csr, "-verify", "-noout"]);
    const { stdout } = await run("openssl", [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      join(this.dir, "ca.pem"),
      "-CAkey",
      join(this.dir, "ca.key"),
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      "30",
      "-subj",
      `/CN=${deviceId}/OU=device`,
      "-extfile",
      ext,
      "-sha256",
    ]);
    res.statusCode = 201;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ deviceId, certificatePem: stdout, caPem: this.ca.certificatePem }));
  }

  async #receive(
    id: string,
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
  ): Promise<void> {
    const hash = createHash("sha256");
    const transfer: Transfer = { sha256: "", bytes: 0, complete: false };
    this.transfers.set(id, transfer);
    if (this.stall.has(id)) {
      // Takes the bytes but never answers: the upload waits until the agent gives up on it.
      req.on("data", (chunk: Buffer) => {
        transfer.bytes += chunk.length;
      });
      req.socket.on("close", () => {
        transfer.closed = true;
      });
      return;
    }
    try {
      for await (const chunk of req) {
        hash.update(chunk as Buffer);
        transfer.bytes += (chunk as Buffer).length;
      }
    } catch {
      return;
    }
    transfer.sha256 = hash.digest("hex");
    transfer.complete = true;
    res.statusCode = 201;
    res.end("{}");
  }

  async close(): Promise<void> {
    for (const link of this.links) link.ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export { WebSocket };
export const readText = (path: string) => readFile(path, "utf8");
