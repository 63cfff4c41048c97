import { CustodyError, isCustodyError } from "@custody/core";

/** The server's certificate does not chain to the trust anchor (the vault CA). */
const UNTRUSTED_SERVER = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
]);

/** Failures of reaching the server at all: worth another try when the request is safe to repeat. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
]);

/** A failed request as a CustodyError with a code, and whether trying again could succeed. */
export function transportError(cause: unknown, origin: string): { error: CustodyError; retryable: boolean } {
  if (isCustodyError(cause)) return { error: cause, retryable: false };
  const code = errorCode(cause);
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (code === "ABORT_ERR" || (cause as { name?: unknown }).name === "AbortError")
    return fixed("ERR_ABORTED", "the request was aborted", cause);
  if (UNTRUSTED_SERVER.has(code))
    return fixed(
      "ERR_UNTRUSTED_SIGNER",
      `the server at ${origin} presents a certificate not issued by the vault CA (${code}); give --ca only with the vault's own CA certificate`,
      cause,
    );
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return fixed("ERR_UNTRUSTED_SIGNER", `the server's certificate is not for ${origin}: ${reason}`, cause);
  if (code === "CERT_HAS_EXPIRED")
    return fixed("ERR_CERT_EXPIRED", `the server's certificate at ${origin} has expired`, cause);
  if (code.startsWith("ERR_SSL_") && code.includes("ALERT")) return refusedIdentity(code, cause);
  if (UNREACHABLE.has(code))
    return {
      error: new CustodyError(
        "ERR_BACKEND_UNAVAILABLE",
        `cannot reach the custody server at ${origin}: ${reason}`,
        {
          cause,
        },
      ),
      retryable: true,
    };
  return fixed("ERR_BACKEND_UNAVAILABLE", `the request to ${origin} failed: ${reason}`, cause);
}

/** A TLS alert from the server: it refused the caller's certificate (the alert says why, when it can). */
function refusedIdentity(code: string, cause: unknown): { error: CustodyError; retryable: boolean } {
  const why = code.includes("REVOKED")
    ? "it is revoked"
    : code.includes("EXPIRED")
      ? "it has expired"
      : code.includes("CERTIFICATE_REQUIRED")
        ? "none was presented"
        : code.includes("PROTOCOL_VERSION")
          ? "the TLS version does not match (TLS 1.3 only)"
          : "it is not a valid identity of this vault";
  return fixed(
    "ERR_IDENTITY_INVALID",
    `the server refused the identity certificate: ${why} (${code})`,
    cause,
  );
}

function fixed(
  code: CustodyError["code"],
  message: string,
  cause: unknown,
): { error: CustodyError; retryable: boolean } {
  return { error: new CustodyError(code, message, { cause }), retryable: false };
}

function errorCode(cause: unknown): string {
  if (typeof cause !== "object" || cause === null) return "";
  const code = (cause as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}

/** The connection ended without an answer (Node's "socket hang up"). */
export function isHangUp(cause: unknown): boolean {
  return errorCode(cause) === "ECONNRESET";
}

/** The server closes new connections right after the handshake: it refuses the identity certificate. */
export function refusedAfterHandshake(origin: string, cause: unknown): CustodyError {
  return new CustodyError(
    "ERR_IDENTITY_INVALID",
    `the server at ${origin} closes connections after the TLS handshake without answering: it refuses the identity certificate (revoked, expired or not issued by this vault's CA)`,
    { cause },
  );
}
