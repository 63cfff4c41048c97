import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { Agent, request } from "node:https";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CustodyError } from "@custody/core";
import type { TlsIdentity } from "./identity.js";
import { problemError } from "./problem.js";
import { isHangUp, refusedAfterHandshake, transportError } from "./tls-errors.js";

/** How long an unused kept-alive connection stays open on the client side. */
const IDLE_CONNECTION_MS = 4_000;

export interface TransportOptions {
  baseUrl: string;
  identity: TlsIdentity;
  passphrase?: string;
  /** How many times a request that is safe to repeat is tried again after a connection failure. */
  retries?: number;
  /** A connection silent this long is dropped (ERR_TIMEOUT). */
  idleTimeoutMs?: number;
  /** Keep-alive connections per client (the server sees one TLS peer per connection). */
  maxSockets?: number;
  /** Stops every call of this client (a call's own signal stops that call). */
  abortSignal?: AbortSignal;
}

export interface Call {
  method: "GET" | "POST" | "DELETE";
  path: string;
  query?: URLSearchParams;
  headers?: OutgoingHttpHeaders;
  /** A fresh body for each try: JSON text, or a stream made anew (a retry re-opens the file). */
  body?: () => string | Readable;
  abortSignal?: AbortSignal | undefined;
}

/** An HTTPS connection pool with the caller's certificate, trusting only the vault CA, TLS 1.3 only. */
export class Transport {
  readonly #agent: IdleAwareAgent;
  readonly #base: URL;
  readonly #retries: number;
  readonly #idleTimeoutMs: number;
  readonly #abortSignal: AbortSignal | undefined;

  constructor(options: TransportOptions) {
    this.#base = baseUrl(options.baseUrl);
    const { identity } = options;
    if (identity.trustAnchorsPem.length === 0) {
      throw new CustodyError(
        "ERR_USAGE",
        "no trust anchor for the server: the identity file holds no CA certificate (an older file); give --ca with the vault CA certificate",
      );
    }
    this.#agent = new IdleAwareAgent({
      keepAlive: true,
      // An idle kept-alive connection is closed by the client well before the server closes its end
      // (10 s by default): a request written on a connection the server is closing fails with a reset,
      // and a POST is not repeated. A request's own timeout still governs the connection while in use.
      timeout: IDLE_CONNECTION_MS,
      maxSockets: options.maxSockets ?? 8,
      cert: identity.certificatePem,
      key: identity.keyPem,
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
      ca: identity.trustAnchorsPem,
      minVersion: "TLSv1.3",
      rejectUnauthorized: true,
    });
    this.#retries = options.retries ?? 2;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.#abortSignal = options.abortSignal;
  }

  get origin(): string {
    return this.#base.origin;
  }

  /** The response to `call` once its status is a success; a failure becomes the server's CustodyError. */
  /** The signal that stops a call: the client's and the call's own, whichever fires first. */
  signalFor(own: AbortSignal | undefined): AbortSignal | undefined {
    if (own === undefined || this.#abortSignal === undefined) return own ?? this.#abortSignal;
    return AbortSignal.any([own, this.#abortSignal]);
  }

  async send(given: Call): Promise<IncomingMessage> {
    const call = { ...given, abortSignal: this.signalFor(given.abortSignal) };
    const idempotent = call.method === "GET";
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.#attempt(call);
      if (outcome.kind === "response") {
        const { response } = outcome;
        if ((response.statusCode ?? 0) < 300) return response;
        const error = await problemError(response);
        outcome.request.destroy(); // an upload the server refused early stops sending
        const wait = refusedUnprocessed(error, response);
        if (wait === undefined || attempt >= this.#retries || call.abortSignal?.aborted) throw error;
        await delay(wait);
        continue;
      }
      if (outcome.closedAfterHandshake && (await this.#refusesIdentity()))
        throw refusedAfterHandshake(this.origin, outcome.error);
      // Only what surely never reached the server is repeated: a GET, or a request whose bytes never left.
      const repeatable = (idempotent || !outcome.sent) && outcome.retryable;
      if (!repeatable || attempt >= this.#retries || call.abortSignal?.aborted) throw outcome.error;
      await delay(100 * 3 ** attempt);
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  /**
   * A server that checks client certificates after the TLS 1.3 handshake (Node's, with the vault's
   * revocation list) closes a refused connection without an alert, which looks like any dropped
   * connection. One unauthenticated, unaudited `GET /healthz` on a new connection tells them apart: a
   * refused identity is refused there too.
   */
  async #refusesIdentity(): Promise<boolean> {
    const probe = await this.#attempt({ method: "GET", path: "/healthz" });
    if (probe.kind === "response") probe.response.resume();
    return probe.kind === "failed" && probe.closedAfterHandshake;
  }

  #attempt(call: Call): Promise<Attempt> {
    this.#agent.dropStale();
    const url = new URL(`${this.#base.pathname.replace(/\/$/, "")}${call.path}`, this.#base);
    if (call.query !== undefined) url.search = call.query.toString();
    return new Promise((resolve) => {
      let sent = false;
      let freshHandshake = false;
      const fail = (cause: unknown) =>
        resolve({
          kind: "failed",
          sent,
          closedAfterHandshake: freshHandshake && isHangUp(cause),
          ...transportError(cause, this.origin),
        });
      const req = request(url, {
        method: call.method,
        agent: this.#agent,
        headers: { accept: "application/json", ...call.headers },
        timeout: this.#idleTimeoutMs,
        ...(call.abortSignal === undefined ? {} : { signal: call.abortSignal }),
      });
      req.once("response", (response) => resolve({ kind: "response", response, request: req }));
      req.once("error", fail);
      req.once("timeout", () => req.destroy(new CustodyError("ERR_TIMEOUT", "the server went silent")));
      req.once("socket", (socket) => {
        // Over TLS nothing of the request leaves before the handshake; a kept-alive socket may have sent it.
        if (req.reusedSocket) sent = true;
        else
          socket.once("secureConnect", () => {
            sent = true;
            freshHandshake = true;
          });
      });
      writeBody(req, call.body?.());
    });
  }
}

/**
 * The pool's idle limit is a timer, and a timer cannot fire while the event loop is blocked (a caller
 * running a child process synchronously): a connection idle far past the server's limit would then be
 * reused by the next request, written into a closing socket. Each connection's idle time is measured by the
 * clock instead, and an outlived one is dropped before a request picks from the pool.
 */
class IdleAwareAgent extends Agent {
  readonly #freedAt = new WeakMap<Socket, number>();

  constructor(options: ConstructorParameters<typeof Agent>[0]) {
    super(options);
    // after the pool's own handler, which puts a reusable socket among the free ones
    this.on("free", (socket: Socket) => this.#freedAt.set(socket, performance.now()));
  }

  dropStale(): void {
    const now = performance.now();
    for (const sockets of Object.values(this.freeSockets)) {
      for (const socket of [...(sockets ?? [])]) {
        if (now - (this.#freedAt.get(socket) ?? now) < IDLE_CONNECTION_MS) continue;
        socket.emit("agentRemove"); // out of the pool at once; its close comes later
        socket.destroy();
      }
    }
  }
}

type Attempt =
  | { kind: "response"; response: IncomingMessage; request: ClientRequest }
  | { kind: "failed"; sent: boolean; closedAfterHandshake: boolean; retryable: boolean; error: CustodyError };

function writeBody(req: ReturnType<typeof request>, body: string | Readable | undefined): void {
  if (body === undefined || typeof body === "string") {
    req.end(body);
    return;
  }
  // Errors of either side surface as the request's error (a file read error destroys the request).
  pipeline(body, req).catch((error: unknown) => req.destroy(error as Error));
}

function baseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CustodyError("ERR_USAGE", `'${text}' is not a server URL (https://HOST:PORT)`);
  }
  if (url.protocol !== "https:" || url.username !== "" || url.password !== "" || url.search !== "") {
    throw new CustodyError("ERR_USAGE", `'${text}' is not a server URL (https://HOST:PORT, no credentials)`);
  }
  return url;
}

/** The server's caps (rate, concurrent uploads) refuse before doing anything: waiting and repeating is safe. */
const UNPROCESSED_CODES = new Set(["ERR_RATE_LIMITED", "ERR_SERVER_BUSY"]);
const MAX_RETRY_AFTER_MS = 10_000;

function refusedUnprocessed(error: CustodyError, response: IncomingMessage): number | undefined {
  if (!UNPROCESSED_CODES.has(error.code)) return undefined;
  const seconds = Number(response.headers["retry-after"]);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : 1000;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
