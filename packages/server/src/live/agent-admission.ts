import type { X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, RequestContext, Vault } from "@custody/vault";
import { RateLimiter } from "../rate-limit.js";
import type { RefusalRecorder } from "../refusals.js";

export const AGENT_PATH = "/v1/agent";

/**
 * Who may open an agent socket: the decision on an upgrade request, before the WebSocket handshake is
 * answered. Only `/v1/agent`, within the per-key upgrade budget (reconnect floods), from a device
 * certificate TLS verified and the vault authenticates (revocation from the log, enrolled), whose device
 * stands `active` (not quarantined). Every refusal is answered with its HTTP status and recorded.
 */
export class AgentAdmission {
  readonly #vault: Vault;
  readonly #refusals: RefusalRecorder;
  /** Upgrades per device key (or per address without one): 1 a second, 10 saved. */
  readonly #upgrades = new RateLimiter(1, 10);

  constructor(vault: Vault, refusals: RefusalRecorder) {
    this.#vault = vault;
    this.#refusals = refusals;
  }

  /** The device principal to accept, or undefined once the socket has been refused. */
  async admit(
    request: IncomingMessage,
    socket: TLSSocket,
    context: RequestContext,
  ): Promise<AuthenticatedPrincipal | undefined> {
    if ((request.url ?? "") !== AGENT_PATH) return refuseUpgrade(socket, 404, "not found");
    const certificate = socket.getPeerX509Certificate();
    const key = certificate?.fingerprint256 ?? context.clientAddress;
    if (!this.#upgrades.take(key).ok) return refuseUpgrade(socket, 429, "too many requests");
    const principal = await this.#authenticate(socket, certificate, context);
    if (principal === undefined) return refuseUpgrade(socket, 401, "unauthorized");
    if (principal.kind !== "device") {
      const message = `kind-mismatch: a ${principal.kind} certificate on the agent endpoint`;
      await this.#refusals.record(context, message, certificate);
      return refuseUpgrade(socket, 403, "forbidden");
    }
    const standing = this.#vault.deviceStanding(principal);
    if (standing !== "active") {
      const reason = `the device is ${standing}`;
      await this.#vault.recordAgentEvent(principal, "agent.connect", "deny", reason, context);
      return refuseUpgrade(socket, 403, "forbidden");
    }
    return principal;
  }

  /** The certificate TLS verified, checked again by the vault (revocation from the log, enrollment). */
  async #authenticate(socket: TLSSocket, certificate: X509Certificate | undefined, context: RequestContext) {
    if (certificate === undefined || socket.authorized !== true) {
      const reason = "agent endpoint: no verified client certificate";
      await this.#refusals.record(context, reason, certificate);
      return undefined;
    }
    try {
      return await this.#vault.authenticatePeer(certificate, context);
    } catch (error) {
      // authenticatePeer recorded the refusal
      if (isCustodyError(error)) return undefined;
      throw error;
    }
  }
}

/** Answers an upgrade request with a bare HTTP status and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): undefined {
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }
  socket.destroy();
  return undefined;
}
