import type { IncomingMessage } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import {
  AGENT_SUBPROTOCOL,
  decodeFrame,
  encodeFrame,
  type FrameBodies,
  MAX_FRAME_BYTES,
  SequenceChecker,
  SequenceCounter,
} from "@custody/agent/protocol";
import { type Clock, CustodyError, isCustodyError, uuidv7Generator } from "@custody/core";
import type { AuthenticatedPrincipal, RequestContext, Vault } from "@custody/vault";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import type { RefusalRecorder } from "../refusals.js";
import { AgentAdmission, refuseUpgrade } from "./agent-admission.js";
import type { DeviceHub, DeviceStatus, ServerFrameType } from "./hub.js";
import { closeOversizeAsPolicy } from "./oversize.js";

/** RFC 6455 "policy violation": the close code for every protocol or identity breach. */
export const CLOSE_POLICY = 1008;

export interface AgentTimeouts {
  /** WebSocket pings (20 s); an agent that has not answered `pongTimeoutMs` (10 s) later is cut. */
  pingIntervalMs: number;
  pongTimeoutMs: number;
  /** An agent must say hello this soon after the upgrade (10 s). */
  helloTimeoutMs: number;
  /** How often live connections are checked against the log (revoked, quarantined): 1 s. */
  recheckIntervalMs: number;
}

export interface AgentHubOptions extends Partial<AgentTimeouts> {
  vault: Vault;
  refusals: RefusalRecorder;
  logger: Logger;
  clock: Clock;
}

/** One agent connection: who it is (from its certificate) and its sequence state. */
interface Connection {
  readonly ws: WebSocket;
  readonly principal: AuthenticatedPrincipal;
  readonly context: RequestContext;
  readonly inbound: SequenceChecker;
  readonly outbound: SequenceCounter;
  phase: "hello" | "accepting" | "live" | "closed";
  awaitingPong: boolean;
}

const AGENT_FRAMES_FOR_LISTENERS = new Set(["ack", "rows", "result"]);

/**
 * The agents' WebSocket endpoint on the server's HTTPS listener. An upgrade is accepted only from a
 * device certificate the vault authenticates (chain, validity, not revoked, enrolled, not quarantined);
 * every frame is decoded and validated (`@custody/agent/protocol`), and anything else closes the socket
 * with 1008 and an audit record. A `hello` with a stale nonce quarantines the device (a copied key); a
 * second connection with the current one replaces the first (the same agent back after a drop). The log
 * is re-read every second, so a revoked or quarantined device is cut within that.
 */
export class AgentHub implements DeviceHub {
  readonly #options: Required<AgentHubOptions>;
  readonly #wss: WebSocketServer;
  readonly #live = new Map<string, Connection>();
  readonly #all = new Set<Connection>();
  readonly #lastSeen = new Map<string, string>();
  readonly #frameListeners = new Set<(deviceId: string, type: string, body: unknown) => void>();
  readonly #disconnectListeners = new Set<(deviceId: string) => void>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #ids = uuidv7Generator();
  readonly #admission: AgentAdmission;

  constructor(options: AgentHubOptions) {
    this.#options = {
      pingIntervalMs: 20_000,
      pongTimeoutMs: 10_000,
      helloTimeoutMs: 10_000,
      recheckIntervalMs: 1_000,
      ...options,
    };
    this.#admission = new AgentAdmission(options.vault, options.refusals);
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(AGENT_SUBPROTOCOL) ? AGENT_SUBPROTOCOL : false),
    });
    const ping = setInterval(() => this.#pingAll(), this.#options.pingIntervalMs);
    const recheck = setInterval(() => this.recheck(), this.#options.recheckIntervalMs);
    for (const timer of [ping, recheck]) {
      timer.unref();
      this.#timers.push(timer);
    }
  }

  /** Takes WebSocket upgrades on `https`; any upgrade but `/v1/agent` is answered 404. */
  attach(https: HttpsServer): void {
    https.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#upgrade(request, socket as TLSSocket, head).catch((error: unknown) => {
        this.#options.logger.error({ err: error }, "agent upgrade failed");
        refuseUpgrade(socket, 500, "internal error");
      });
    });
  }

  isOnline(deviceId: string): boolean {
    return this.#live.get(deviceId)?.phase === "live";
  }

  send(deviceId: string, type: ServerFrameType, body: Record<string, unknown>): void {
    const connection = this.#live.get(deviceId);
    if (connection === undefined || connection.phase !== "live") {
      throw new CustodyError("ERR_DEVICE_OFFLINE", `${deviceId} has no live agent connection`);
    }
    const text = encodeFrame(type, body as never, { seq: connection.outbound.next() });
    connection.ws.send(text);
  }

  onFrame(listener: (deviceId: string, type: string, body: unknown) => void): () => void {
    this.#frameListeners.add(listener);
    return () => this.#frameListeners.delete(listener);
  }

  onDisconnect(listener: (deviceId: string) => void): () => void {
    this.#disconnectListeners.add(listener);
    return () => this.#disconnectListeners.delete(listener);
  }

  list(): DeviceStatus[] {
    const statuses: DeviceStatus[] = [];
    for (const device of this.#options.vault.enrolledDevices()) {
      if (device.state === "revoked") continue;
      // the facts are the enrolled ones the log holds: a hello's hostname, os and version are the
      // device's unsigned word, checked by nothing, so they never stand in for what was recorded
      statuses.push({
        deviceId: device.deviceId,
        hostname: device.hostname,
        os: device.os,
        agentVersion: device.agentVersion,
        online: this.isOnline(device.deviceId),
        lastSeen: this.#lastSeen.get(device.deviceId) ?? device.lastSeen,
        state: device.state,
      });
    }
    return statuses;
  }

  /** Number of agent sockets open now (in any phase). */
  get connections(): number {
    return this.#all.size;
  }

  /** Closes the device's live connection now (a revocation, a quarantine). */
  cut(deviceId: string, reason: string): void {
    const connection = this.#live.get(deviceId);
    if (connection !== undefined) this.#close(connection, CLOSE_POLICY, reason);
  }

  /** Cuts every connection whose device the log no longer lets connect (revoked, quarantined, unknown). */
  recheck(): void {
    for (const connection of this.#all) {
      const standing = this.#options.vault.deviceStanding(connection.principal);
      if (standing !== "active") this.#close(connection, CLOSE_POLICY, `the device is ${standing}`);
    }
  }

  /** Closes every agent connection (server shutdown: agents reconnect to the next server). */
  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    for (const connection of this.#all) this.#close(connection, 1001, "server shutting down");
    this.#wss.close();
  }

  async #upgrade(request: IncomingMessage, socket: TLSSocket, head: Buffer): Promise<void> {
    const context = { requestId: this.#ids.next(), clientAddress: socket.remoteAddress ?? "unknown" };
    const principal = await this.#admission.admit(request, socket, context);
    if (principal === undefined) return;
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, principal, context));
  }

  #accept(ws: WebSocket, principal: AuthenticatedPrincipal, context: RequestContext): void {
    const connection: Connection = {
      ws,
      principal,
      context,
      inbound: new SequenceChecker(),
      outbound: new SequenceCounter(),
      phase: "hello",
      awaitingPong: false,
    };
    this.#all.add(connection);
    this.#seen(principal.id);
    const helloTimer = setTimeout(() => {
      if (connection.phase === "hello") this.#protocolError(connection, "no hello in time");
    }, this.#options.helloTimeoutMs);
    helloTimer.unref();
    closeOversizeAsPolicy(ws);
    ws.on("message", (data: Buffer, isBinary: boolean) => this.#message(connection, data, isBinary));
    ws.on("pong", () => {
      connection.awaitingPong = false;
      this.#seen(principal.id);
    });
    ws.on("error", (error: Error) => {
      // ws closes the socket itself (1008 for a frame over maxPayload, see oversize.ts); the breach is recorded
      this.#record(connection, "agent.protocol-error", `transport: ${error.message}`);
    });
    ws.on("close", (code: number) => {
      clearTimeout(helloTimer);
      this.#closed(connection, code);
    });
  }

  #message(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (connection.phase === "closed") return;
    if (isBinary) {
      this.#protocolError(connection, "binary frame");
      return;
    }
    let frame: ReturnType<typeof decodeFrame>;
    try {
      frame = decodeFrame(data, { from: "agent" });
      connection.inbound.accept(frame.seq);
    } catch (error) {
      this.#protocolError(connection, (error as Error).message);
      return;
    }
    this.#seen(connection.principal.id);
    if (frame.t === "hello") {
      this.#hello(connection, frame.body);
      return;
    }
    if (connection.phase !== "live") {
      this.#protocolError(connection, `${frame.t} before welcome`);
      return;
    }
    if (!AGENT_FRAMES_FOR_LISTENERS.has(frame.t)) {
      this.#protocolError(connection, `unexpected ${frame.t}`);
      return;
    }
    for (const listener of this.#frameListeners) {
      try {
        listener(connection.principal.id, frame.t, frame.body);
      } catch (error) {
        this.#options.logger.error(
          { err: error, deviceId: connection.principal.id },
          "frame listener failed",
        );
      }
    }
  }

  #hello(connection: Connection, hello: FrameBodies["hello"]): void {
    const { principal, context } = connection;
    if (connection.phase !== "hello") {
      this.#protocolError(connection, "a second hello");
      return;
    }
    if (hello.deviceId !== principal.id) {
      this.#protocolError(connection, `hello names ${hello.deviceId}, the certificate ${principal.id}`);
      return;
    }
    connection.phase = "accepting";
    this.#options.vault
      .acceptAgentConnection(principal, hello.prevNonce, context)
      .then(({ nonce }) => {
        if (connection.phase !== "accepting") return;
        const body = {
          nonce,
          serverTime: this.#options.clock.now().toISOString(),
          maxFrameBytes: MAX_FRAME_BYTES,
        };
        connection.ws.send(encodeFrame("welcome", body, { seq: connection.outbound.next() }));
        connection.phase = "live";
        this.#goLive(connection);
      })
      .catch((error: unknown) => {
        const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
        this.#close(connection, CLOSE_POLICY, code);
        // a stale nonce while another connection is live: that one goes too (the device is quarantined)
        if (code === "ERR_DEVICE_QUARANTINED") this.cut(principal.id, "the device was quarantined");
      });
  }

  /**
   * A second connection for a device is judged by its nonce, in the vault: one that showed the nonce the
   * live connection was given is the same agent reconnecting (its old socket is dead or half-open), and
   * replaces it; one that did not has quarantined the device before it got here.
   */
  #goLive(connection: Connection): void {
    const deviceId = connection.principal.id;
    const previous = this.#live.get(deviceId);
    this.#live.set(deviceId, connection);
    if (previous !== undefined && previous !== connection) {
      this.#record(previous, "agent.replaced", "a new connection showed the current nonce", "allow");
      this.#close(previous, CLOSE_POLICY, "replaced by a new connection");
      for (const listener of this.#disconnectListeners) listener(deviceId);
    }
  }

  #protocolError(connection: Connection, reason: string): void {
    if (connection.phase === "closed") return;
    this.#record(connection, "agent.protocol-error", reason);
    this.#close(connection, CLOSE_POLICY, "protocol error");
  }

  #record(connection: Connection, action: string, reason: string, outcome: "allow" | "deny" = "deny"): void {
    const { principal, context } = connection;
    this.#options.vault
      .recordAgentEvent(principal, action, outcome, reason, context)
      .catch((error: unknown) => this.#options.logger.error({ err: error }, "cannot record an agent event"));
  }

  #close(connection: Connection, code: number, reason: string): void {
    if (connection.phase === "closed") return;
    connection.phase = "closed";
    connection.ws.close(code, reason.slice(0, 120));
    // a peer that never completes the closing handshake is dropped
    setTimeout(() => connection.ws.terminate(), 2_000).unref();
    this.#release(connection);
  }

  #closed(connection: Connection, code: number): void {
    connection.phase = "closed";
    this.#all.delete(connection);
    this.#release(connection);
    this.#options.logger.info({ deviceId: connection.principal.id, code }, "agent disconnected");
  }

  #release(connection: Connection): void {
    const deviceId = connection.principal.id;
    if (this.#live.get(deviceId) !== connection) return;
    this.#live.delete(deviceId);
    for (const listener of this.#disconnectListeners) listener(deviceId);
  }

  #seen(deviceId: string): void {
    this.#lastSeen.set(deviceId, this.#options.clock.now().toISOString());
  }

  #pingAll(): void {
    for (const connection of this.#all) {
      if (connection.phase === "closed") continue;
      connection.awaitingPong = true;
      connection.ws.ping();
    }
    const check = setTimeout(() => {
      for (const connection of this.#all) {
        if (connection.awaitingPong) {
          connection.ws.terminate();
        }
      }
    }, this.#options.pongTimeoutMs);
    check.unref();
  }
}
