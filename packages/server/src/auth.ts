import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { RateLimiter } from "./rate-limit.js";
import type { RefusalRecorder } from "./refusals.js";
import { ANSWERED_TLS_ERRORS, peerCertificate } from "./tls.js";

const principals = new WeakMap<FastifyRequest, AuthenticatedPrincipal>();

/**
 * The only routes a caller may reach without a client certificate, as `METHOD /path` (the route's
 * pattern; HEAD counts as GET): load-balancer probes, which say nothing about the vault. Every other
 * route, unknown paths included, refuses a connection without a certificate (401, recorded, closed).
 * A route added here gets no principal (`principalOf` throws): it must check its caller some other way.
 */
export const ROUTES_WITHOUT_CLIENT_CERTIFICATE: ReadonlySet<string> = new Set([
  "GET /healthz",
  "GET /readyz",
]);

/** Whether this request's route is one of `ROUTES_WITHOUT_CLIENT_CERTIFICATE`. */
export function needsNoClientCertificate(request: FastifyRequest): boolean {
  const method = request.method === "HEAD" ? "GET" : request.method;
  return ROUTES_WITHOUT_CLIENT_CERTIFICATE.has(`${method} ${request.routeOptions.url ?? ""}`);
}

/** The principal `authenticate` found for this request (only on authenticated routes). */
export function principalOf(request: FastifyRequest): AuthenticatedPrincipal {
  const principal = principals.get(request);
  if (principal === undefined) throw new CustodyError("ERR_INTERNAL", "the request was not authenticated");
  return principal;
}

export function clientAddress(request: FastifyRequest): string {
  return request.raw.socket.remoteAddress ?? "unknown";
}

/**
 * Runs before any body is read: the caller's certificate fingerprint takes a token from its bucket, then
 * the vault turns the certificate into a principal, checking revocation on every request (a certificate
 * revoked while its connection stays open is refused from the next request on; the refusal is recorded).
 */
export async function authenticate(
  vault: Vault,
  limiter: RateLimiter,
  refusals: RefusalRecorder,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  await refuseUnverifiedPeer(refusals, request, reply);
  const certificate = peerCertificate(request.raw.socket as TLSSocket);
  // a route that needs no certificate was reached without one: it names no principal
  if (certificate === undefined) return;
  const fingerprint = certificate.fingerprint256;
  const taken = limiter.take(fingerprint);
  if (!taken.ok) {
    reply.header("retry-after", String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))));
    throw new CustodyError("ERR_RATE_LIMITED", "too many requests for this identity; retry later", {
      details: { retryAfterMs: taken.retryAfterMs },
    });
  }
  const principal = await vault.authenticatePeer(certificate, {
    requestId: request.id,
    clientAddress: clientAddress(request),
  });
  principals.set(request, principal);
}

/**
 * Every route, operational ones included, refuses a connection whose certificate TLS did not verify. A
 * connection without a certificate reaches only `ROUTES_WITHOUT_CLIENT_CERTIFICATE`; on any other route
 * it is answered 401, the attempt recorded (within the refusal budget) and the connection closed.
 */
export async function refuseUnverifiedPeer(
  refusals: RefusalRecorder,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const socket = request.raw.socket as TLSSocket;
  if (socket.authorized === true) return;
  const certificate = peerCertificate(socket);
  if (certificate !== undefined) await refusePeer(refusals, certificate, socket, request, reply);
  if (needsNoClientCertificate(request)) return;
  const message = "a client certificate issued by the vault CA is required";
  reply.header("connection", "close");
  await refusals.record(
    { requestId: request.id, clientAddress: clientAddress(request) },
    "no client certificate",
  );
  throw new CustodyError("ERR_IDENTITY_INVALID", message);
}

/**
 * A connection TLS let through with a verdict against its certificate (revoked, expired, not yet valid):
 * never served, whatever the vault's own check would say. Its request is answered 401 with the reason,
 * recorded (within the refusal budget), and the connection closed.
 */
async function refusePeer(
  refusals: RefusalRecorder,
  certificate: X509Certificate,
  socket: TLSSocket,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<never> {
  const verdict = ANSWERED_TLS_ERRORS.get(String(socket.authorizationError)) ?? "was refused by TLS";
  const message = `the identity certificate ${certificate.serialNumber.toUpperCase()} ${verdict}`;
  reply.header("connection", "close");
  await refusals.record(
    { requestId: request.id, clientAddress: clientAddress(request) },
    message,
    certificate,
  );
  throw new CustodyError("ERR_IDENTITY_INVALID", message, {
    details: { tls: String(socket.authorizationError) },
  });
}
