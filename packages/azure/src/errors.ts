import { CustodyError, toCustodyError } from "@custody/core";

interface RestLike {
  name?: string;
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

const IMMUTABLE_CODES = new Set([
  "BlobImmutableDueToPolicy",
  "BlobImmutableDueToLegalHold",
  "BlobImmutableDueToRetentionPolicy",
]);
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "REQUEST_SEND_ERROR",
]);

/** The service's error code: in the body for most calls, in `code` when the body is empty (HEAD). */
export function azureErrorCode(error: unknown): string | undefined {
  const e = error as RestLike | null;
  return e?.details?.errorCode ?? e?.code;
}

export function statusOf(error: unknown): number | undefined {
  return (error as RestLike | null)?.statusCode;
}

/**
 * One coded error per Azure failure: 404 is ERR_NOT_FOUND, an existing blob or a failed create-only
 * condition is ERR_ALREADY_EXISTS, a WORM refusal is ERR_IMMUTABLE, 401/403 is ERR_ACCESS_DENIED,
 * network failures and 5xx are ERR_BACKEND_UNAVAILABLE. Nothing becomes null.
 */
export function mapAzureError(error: unknown, message: string, key?: string): CustodyError {
  if (error instanceof CustodyError) return error;
  const status = statusOf(error);
  const code = azureErrorCode(error);
  const details = { ...(key === undefined ? {} : { key }), status, azureCode: code };
  const make = (c: CustodyError["code"]) =>
    new CustodyError(c, `${message}: ${describe(error)}`, { cause: error, details });
  if ((error as RestLike | null)?.name === "AbortError") return make("ERR_ABORTED");
  if (status === 404) return make("ERR_NOT_FOUND");
  if (code === "BlobAlreadyExists" || (status === 412 && code === "ConditionNotMet") || status === 412) {
    return make("ERR_ALREADY_EXISTS");
  }
  if (code !== undefined && IMMUTABLE_CODES.has(code)) return make("ERR_IMMUTABLE");
  if (status === 401 || status === 403) return make("ERR_ACCESS_DENIED");
  if (status !== undefined && status >= 500) return make("ERR_BACKEND_UNAVAILABLE");
  if (status === undefined && (code === undefined || NETWORK_CODES.has(code)))
    return make("ERR_BACKEND_UNAVAILABLE");
  return toCustodyError(error, "ERR_BACKEND_UNAVAILABLE", message);
}

function describe(error: unknown): string {
  const e = error as RestLike & { message?: string };
  const first = (e?.message ?? String(error)).split("\n")[0] ?? "";
  return [e?.statusCode, azureErrorCode(error), first].filter((x) => x !== undefined && x !== "").join(" ");
}
