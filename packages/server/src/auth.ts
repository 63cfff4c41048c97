import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { RateLimiter } from "./rate-limit.js";

const principals = new WeakMap<FastifyRequest, AuthenticatedPrincipal>();
const peerCertificates = new WeakMap<TLSSocket, X509Certificate>();

/** The principal `authenticate` found for this request (only on authenticated routes). */
export function principalOf(request: FastifyRequest): AuthenticatedPrincipal {
  const principal = principals.get(request);
  if (principal === undefined) throw new CustodyError("ERR_INTERNAL", "the request was not authenticated");
  return principal;
}

export function clientAddress(request: FastifyRequest): string {
  return request.raw.socket.remoteAddress ?? "unknown";
}

/** The certificate the TLS handshake verified, read once per connection. */
function peerCertificate(socket: TLSSocket): X509Certificate | undefined {
  const known = peerCertificates.get(socket);
  if (known !== undefined) return known;
  const certificate = socket.getPeerX509Certificate?.();
  if (certificate !== undefined) peerCertificates.set(socket, certificate);
  return certificate;
}

/**
 * Runs before any body is read: the caller's certificate fingerprint takes a token from its bucket, then
 * the vault turns the certificate into a principal, checking revocation on every request (a certificate
 * revoked while its connection stays open is refused from the next request on; the refusal is recorded).
 */
export async function authenticate(
  vault: Vault,
  limiter: RateLimiter,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const socket = request.raw.socket as TLSSocket;
  const certificate = peerCertificate(socket);
  if (certificate === undefined || socket.authorized !== true) {
    throw new CustodyError("ERR_IDENTITY_INVALID", "a client certificate issued by the vault CA is required");
  }
  const fingerprint = certificate.fingerprint256;
  const taken = limiter.take(fingerprint);
  if (!taken.ok) {
    reply.header("retry-after", String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))));
    throw new CustodyError("ERR_RATE_LIMITED", "too many requests for this identity; retry later", {
      details: { retryAfterMs: taken.retryAfterMs },
    });
  }
  const principal = await vault.authenticatePeer(certificate.toString(), {
    requestId: request.id,
    clientAddress: clientAddress(request),
  });
  principals.set(request, principal);
}
