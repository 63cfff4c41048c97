import { BODY_LIMIT_BYTES, ROUTES } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { EnrollmentRequest, Vault } from "@custody/vault";
import type { FastifyInstance, FastifyReply } from "fastify";
import { clientAddress } from "../auth.js";
import { RateLimiter } from "../rate-limit.js";

/** Enrollment attempts per source address (a token is guessed by nobody, but tried by many). */
export interface EnrollLimits {
  perAddressPerSecond: number;
  perAddressBurst: number;
  /** All addresses together (`enrollmentsPerSecond`). */
  totalPerSecond: number;
  totalBurst: number;
}

export const DEFAULT_ENROLL_LIMITS: EnrollLimits = {
  perAddressPerSecond: 1,
  perAddressBurst: 10,
  totalPerSecond: 10,
  totalBurst: 50,
};

/**
 * `POST /v1/enroll`: the one vault route reached without a client certificate. The token is the
 * authority; the body is small (16 KiB) and validated before the vault sees it; attempts are
 * rate-limited per address and in total, and every refusal past the limiter is recorded by the vault.
 */
export function enrollRoute(app: FastifyInstance, vault: Vault, limits = DEFAULT_ENROLL_LIMITS): void {
  const spec = ROUTES.enroll;
  const perAddress = new RateLimiter(limits.perAddressPerSecond, limits.perAddressBurst);
  const total = new RateLimiter(limits.totalPerSecond, limits.totalBurst);
  app.route({
    method: spec.method,
    url: spec.path,
    bodyLimit: BODY_LIMIT_BYTES[spec.bodyLimit],
    config: { authenticated: false },
    onRequest: async (request, reply) => {
      throttle(reply, perAddress.take(clientAddress(request)));
      throttle(reply, total.take("*"));
    },
    schema: { body: spec.body },
    handler: async (request, reply) => {
      const enrolled = await vault.enroll(request.body as EnrollmentRequest, {
        requestId: request.id,
        clientAddress: clientAddress(request),
      });
      return reply.code(spec.status).send(enrolled);
    },
  });
}

function throttle(reply: FastifyReply, taken: { ok: true } | { ok: false; retryAfterMs: number }): void {
  if (taken.ok) return;
  reply.header("retry-after", String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))));
  throw new CustodyError("ERR_RATE_LIMITED", "too many enrollment attempts; retry later", {
    details: { retryAfterMs: taken.retryAfterMs },
  });
}
