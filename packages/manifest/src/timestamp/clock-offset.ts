import { type Clock, systemClock, toCustodyError } from "@custody/core";
import { requestTimestamp, type TimestampAuthority, type TimestampRequestOptions } from "./client.js";
import { imprintOf } from "./imprint.js";
import type { TimestampInfo } from "./verify-token.js";

/**
 * The local clock against a TSA's (RFC 3227 §2.1: record the offset between the system clock and UTC).
 * `offsetMs` is what to add to a local time to get the TSA's time; the true offset lies within
 * `offsetMs ± uncertaintyMs`. The token is kept: it is the TSA's signed word for its side of the measure,
 * over `statement`, which names the local times, so the correction is itself evidence.
 */
export interface ClockOffset {
  /** The TSA URL asked. */
  reference: string;
  tsa: string;
  /** The local clock just before the request and just after the answer. */
  localSentAt: string;
  localReceivedAt: string;
  /** The TSA's genTime. */
  referenceTime: string;
  offsetMs: number;
  uncertaintyMs: number;
  /** The bytes the token's imprint covers (sha256). */
  statement: string;
  /** Base64 DER TimeStampToken. */
  token: string;
}

/** What a measurement that could not be made leaves behind: never a silent gap. */
export interface ClockOffsetUnavailable {
  reference: string;
  error: { code: string; message: string };
}

/**
 * The offset from the send/receive times and the TSA's time. A genTime with whole seconds may have been
 * truncated (RFC 3161 lets a TSA state seconds), so it counts as the middle of its second, ±500 ms; half
 * the round trip and the TSA's stated accuracy widen the bound.
 */
export function clockOffsetFrom(
  sentAt: Date,
  receivedAt: Date,
  info: Pick<TimestampInfo, "time" | "accuracyMs">,
) {
  const wholeSecond = info.time.getTime() % 1000 === 0;
  const reference = info.time.getTime() + (wholeSecond ? 500 : 0);
  const midpoint = (sentAt.getTime() + receivedAt.getTime()) / 2;
  const halfRoundTrip = (receivedAt.getTime() - sentAt.getTime()) / 2;
  return {
    offsetMs: Math.round(reference - midpoint),
    uncertaintyMs: Math.ceil(halfRoundTrip + (wholeSecond ? 500 : 0) + (info.accuracyMs ?? 1000)),
  };
}

/** Measures the local clock against `authority`; a TSA that cannot answer gives a ClockOffsetUnavailable. */
export async function measureClockOffset(
  authority: TimestampAuthority,
  options: TimestampRequestOptions & { clock?: Clock; label?: string } = {},
): Promise<ClockOffset | ClockOffsetUnavailable> {
  const clock = options.clock ?? systemClock;
  const sentAt = clock.now();
  const statement = `custody clock offset ${options.label ?? ""} local ${sentAt.toISOString()}`.replace(
    "  ",
    " ",
  );
  try {
    const stamp = await requestTimestamp(imprintOf(Buffer.from(statement)), authority, options);
    const receivedAt = clock.now();
    return {
      reference: authority.url,
      tsa: stamp.info.tsa.subject,
      localSentAt: sentAt.toISOString(),
      localReceivedAt: receivedAt.toISOString(),
      referenceTime: stamp.info.time.toISOString(),
      ...clockOffsetFrom(sentAt, receivedAt, stamp.info),
      statement,
      token: stamp.token.toString("base64"),
    };
  } catch (cause) {
    const error = toCustodyError(cause, "ERR_BACKEND_UNAVAILABLE", `clock offset against ${authority.url}`);
    return { reference: authority.url, error: { code: error.code, message: error.message } };
  }
}
