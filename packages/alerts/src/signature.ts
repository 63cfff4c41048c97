import { createHmac, timingSafeEqual } from "node:crypto";
import { type Clock, CustodyError, systemClock } from "@custody/core";

/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = "x-custody-signature";
export const MIN_SECRET_BYTES = 32;
const DEFAULT_TOLERANCE_MS = 300_000;

export type WebhookSecret = string | Uint8Array;

export function assertWebhookSecret(secret: WebhookSecret): void {
  const size = typeof secret === "string" ? Buffer.byteLength(secret) : secret.byteLength;
  if (size < MIN_SECRET_BYTES) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `the webhook secret must be at least ${MIN_SECRET_BYTES} bytes (it is ${size})`,
    );
  }
}

function hmacHex(secret: WebhookSecret, timestamp: number, body: string | Uint8Array): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** The signature header's value for one delivery attempt of `body` at `timestamp` (unix seconds). */
export function signWebhookBody(body: string | Uint8Array, secret: WebhookSecret, timestamp: number): string {
  return `t=${timestamp},v1=${hmacHex(secret, timestamp, body)}`;
}

export interface VerifyWebhookOptions {
  secret: WebhookSecret;
  clock?: Clock;
  /** How far the signed time may be from the receiver's clock (default 5 minutes). */
  toleranceMs?: number;
}

/**
 * What a receiver runs on the exact bytes it received: the signature must be the sender's under the
 * shared secret and recent, so a captured delivery cannot be replayed later. (Within the tolerance a
 * replay is caught by remembering alert ids already seen.) Throws ERR_SIGNATURE_INVALID.
 */
export function verifyWebhookSignature(
  header: string | undefined,
  body: string | Uint8Array,
  options: VerifyWebhookOptions,
): void {
  const parsed = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (parsed === null) throw invalid("the signature header is missing or malformed");
  const timestamp = Number(parsed[1]);
  const expected = Buffer.from(hmacHex(options.secret, timestamp, body), "hex");
  if (!timingSafeEqual(expected, Buffer.from(parsed[2] ?? "", "hex"))) {
    throw invalid("the signature does not match the body under this secret");
  }
  const nowMs = (options.clock ?? systemClock).now().getTime();
  if (Math.abs(nowMs - timestamp * 1000) > (options.toleranceMs ?? DEFAULT_TOLERANCE_MS)) {
    throw invalid("the signature's time is too far from now (a replay, or a skewed clock)");
  }
}

function invalid(message: string): CustodyError {
  return new CustodyError("ERR_SIGNATURE_INVALID", message);
}
