import { CustodyError, toCustodyError } from "@custody/core";
import type { MessageImprint } from "./imprint.js";
import { createTimestampRequest } from "./request.js";
import { parseTimestampResponse } from "./response.js";
import { parseTimestampToken } from "./token.js";
import { type TimestampInfo, type TimestampTrust, verifyTimestampToken } from "./verify-token.js";

/** One time-stamping authority: where to ask and whom to trust for its answers. */
export interface TimestampAuthority {
  /** http:// or https:// URL answering application/timestamp-query. */
  url: string;
  trust: TimestampTrust;
  /** The policy OID to ask for; the TSA's default when absent. */
  policy?: string;
}

export interface TimestampRequestOptions {
  timeoutMs?: number;
  abortSignal?: AbortSignal;
}

export interface Timestamp {
  /** DER TimeStampToken, checked before it is returned. */
  token: Buffer;
  info: TimestampInfo;
  /** The URL that answered. */
  url: string;
}

/** A TimeStampResp is a few KiB; anything larger is not one. */
const MAX_RESPONSE_BYTES = 256 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Asks `authority` to timestamp `imprint` and checks the answer before returning it: it is for this
 * imprint and this request's nonce (ERR_TIMESTAMP_NONCE: a replayed or misrouted answer), and it verifies
 * against the authority's trust anchors. A TSA that cannot be reached is ERR_BACKEND_UNAVAILABLE.
 */
export async function requestTimestamp(
  imprint: MessageImprint,
  authority: TimestampAuthority,
  options: TimestampRequestOptions = {},
): Promise<Timestamp> {
  const request = createTimestampRequest(
    imprint,
    authority.policy === undefined ? {} : { policy: authority.policy },
  );
  const body = await post(authority.url, request.der, options);
  const token = parseTimestampResponse(body);
  const info = verifyTimestampToken(token, imprint, authority.trust);
  const { nonce } = parseTimestampToken(token).tstInfo;
  if (nonce === undefined || !nonce.equals(request.nonce)) {
    throw new CustodyError(
      "ERR_TIMESTAMP_NONCE",
      `the answer from ${authority.url} is not for this request (nonce)`,
      {
        details: {
          url: authority.url,
          expected: request.nonce.toString("hex"),
          actual: nonce?.toString("hex"),
        },
      },
    );
  }
  if (authority.policy !== undefined && info.policy !== authority.policy) {
    throw new CustodyError("ERR_TIMESTAMP_UNTRUSTED", `the TSA answered with policy ${info.policy}`, {
      details: { url: authority.url, policy: info.policy, requested: authority.policy },
    });
  }
  return { token, info, url: authority.url };
}

/**
 * Tries each authority in turn and returns the first valid token. When none answers, the error is
 * ERR_BACKEND_UNAVAILABLE with each authority's failure in its details.
 */
export async function requestTimestampFromAny(
  imprint: MessageImprint,
  authorities: readonly TimestampAuthority[],
  options: TimestampRequestOptions = {},
): Promise<Timestamp> {
  const failures: { url: string; code: string; message: string }[] = [];
  for (const authority of authorities) {
    try {
      return await requestTimestamp(imprint, authority, options);
    } catch (cause) {
      const error = toCustodyError(cause, "ERR_BACKEND_UNAVAILABLE", `timestamp from ${authority.url}`);
      // with one TSA its own error says most; an abort stops trying
      if (error.code === "ERR_ABORTED" || authorities.length === 1) throw error;
      failures.push({ url: authority.url, code: error.code, message: error.message });
    }
  }
  throw new CustodyError(
    "ERR_BACKEND_UNAVAILABLE",
    `no TSA gave a valid timestamp (${failures.map((f) => `${f.url}: ${f.code}`).join("; ") || "none configured"})`,
    {
      details: { failures },
    },
  );
}

async function post(url: string, der: Buffer, options: TimestampRequestOptions): Promise<Buffer> {
  if (!/^https?:\/\//.test(url))
    throw new CustodyError("ERR_INVALID_ARGUMENT", `a TSA URL is http(s)://, not ${url}`);
  const signals = [AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS)];
  if (options.abortSignal !== undefined) signals.push(options.abortSignal);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/timestamp-query", accept: "application/timestamp-reply" },
      body: der,
      signal: AbortSignal.any(signals),
    });
  } catch (cause) {
    const code = options.abortSignal?.aborted ? "ERR_ABORTED" : "ERR_BACKEND_UNAVAILABLE";
    throw new CustodyError(code, `the TSA at ${url} cannot be reached`, { cause, details: { url } });
  }
  return readReply(url, response);
}

async function readReply(url: string, response: Response): Promise<Buffer> {
  if (!response.ok) {
    const code = response.status >= 500 ? "ERR_BACKEND_UNAVAILABLE" : "ERR_TIMESTAMP_REFUSED";
    await response.body?.cancel();
    throw new CustodyError(code, `the TSA at ${url} answered HTTP ${response.status}`, { details: { url } });
  }
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("application/timestamp-reply")) {
    await response.body?.cancel();
    throw new CustodyError(
      "ERR_TIMESTAMP_INVALID",
      `the TSA at ${url} answered ${type || "no content type"}`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES)
      throw new CustodyError(
        "ERR_TIMESTAMP_INVALID",
        `the TSA at ${url} sent over ${MAX_RESPONSE_BYTES} bytes`,
      );
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
