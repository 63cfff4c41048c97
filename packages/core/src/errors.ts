/** Every failure custody reports carries one of these stable codes. Append new codes; never rename. */
export const ERROR_CODES = [
  // generic
  "ERR_INVALID_ARGUMENT",
  "ERR_USAGE",
  "ERR_INTERNAL",
  "ERR_ABORTED",
  "ERR_TIMEOUT",
  "ERR_IO",
  "ERR_STORAGE_FULL",
  "ERR_PERMISSION",
  "ERR_NOT_FOUND",
  "ERR_ALREADY_EXISTS",
  "ERR_CONFLICT",
  "ERR_INTEGRITY_MISMATCH",
  "ERR_IMMUTABLE",
  "ERR_BACKEND_UNAVAILABLE",
  "ERR_ACCESS_DENIED",
  "ERR_UNSUPPORTED_ALGORITHM",
  "ERR_UNSUPPORTED_VERSION",
  "ERR_CANONICAL_JSON",
  "ERR_UNSAFE_PATH",
  "ERR_DUPLICATE_PATH",
  "ERR_SIZE_LIMIT",
  // manifests, signatures, certificates
  "ERR_MANIFEST_INVALID",
  "ERR_MERKLE_ROOT_MISMATCH",
  "ERR_SIGNATURE_INVALID",
  "ERR_DIGEST_MISMATCH",
  "ERR_UNTRUSTED_SIGNER",
  "ERR_CERT_EXPIRED",
  "ERR_CERT_NOT_YET_VALID",
  "ERR_CERT_REVOKED",
  "ERR_CERT_USAGE",
  "ERR_MALFORMED_SIGNATURE",
  "ERR_MALFORMED_CERTIFICATE",
  "ERR_MALFORMED_CRL",
  "ERR_MALFORMED_KEY",
  "ERR_PASSPHRASE_REQUIRED",
  "ERR_ALGORITHM_NOT_ALLOWED",
  // Merkle proofs
  "ERR_PROOF_INVALID",
  // investigation packages and archives
  "ERR_ARCHIVE_MALFORMED",
  "ERR_ARCHIVE_SYMLINK",
  "ERR_ARCHIVE_ENCRYPTED",
  "ERR_ARCHIVE_UNSUPPORTED_METHOD",
  "ERR_ARCHIVE_LIMIT",
  "ERR_ARCHIVE_SIZE_MISMATCH",
  "ERR_PACKAGE_INVALID",
  "ERR_BAGIT_INVALID",
  "ERR_MISSING_ENTRY",
  "ERR_UNLISTED_ENTRY",
  "ERR_OXUM_MISMATCH",
  "ERR_TARGET_NOT_EMPTY",
  // audit log
  "ERR_AUDIT_RECORD_INVALID",
  "ERR_AUDIT_CHAIN_BROKEN",
  "ERR_AUDIT_TRUNCATED",
  "ERR_AUDIT_FORK",
  "ERR_AUDIT_CHECKPOINT_INVALID",
  "ERR_AUDIT_LOCKED",
  "ERR_AUDIT_RACE",
  "ERR_AUDIT_UNSEALED_TAIL",
  // access
  "ERR_POLICY_INVALID",
  "ERR_CUSTODIAN_LIMIT",
  "ERR_APPROVAL_REQUIRED",
  "ERR_IDENTITY_INVALID",
  "ERR_APPROVAL_EXPIRED",
  // vault
  "ERR_VAULT_NOT_INITIALIZED",
  "ERR_PACKAGE_UNVERIFIED",
  // collection
  "ERR_NOT_PRESENT",
  "ERR_COLLECT_FAILED",
  // RFC 3161 timestamps (trusted time)
  "ERR_TIMESTAMP_INVALID",
  "ERR_TIMESTAMP_IMPRINT",
  "ERR_TIMESTAMP_NONCE",
  "ERR_TIMESTAMP_UNTRUSTED",
  "ERR_TIMESTAMP_OUTSIDE_VALIDITY",
  "ERR_TIMESTAMP_REFUSED",
  "ERR_TIMESTAMP_MISSING",
  // disk acquisition (issue 18)
  "ERR_SOURCE_CHANGED",
  "ERR_SOURCE_UNSUPPORTED",
  "ERR_COMPRESSION_UNAVAILABLE",
  // server (issue 12): answered with 429 and 503, the client retries later
  "ERR_RATE_LIMITED",
  "ERR_SERVER_BUSY",
  // live response (issue 13)
  "ERR_LIVE_RESPONSE_OFF",
  "ERR_ENROLLMENT_TOKEN_INVALID",
  "ERR_DEVICE_QUARANTINED",
  "ERR_DEVICE_OFFLINE",
  "ERR_SESSION_LIMIT",
  "ERR_SESSION_CLOSED",
  "ERR_PREREQUISITE",
  "ERR_UNKNOWN_COMMAND",
  "ERR_AGENT_POLICY",
  "ERR_REPLAY",
  "ERR_PROTOCOL",
  "ERR_FILE_CHANGED",
  "ERR_COMMAND_FAILED",
  /** The item index (derived data) disagrees with the signed log: rebuild it. */
  "ERR_INDEX_MISMATCH",
  // live-response actions (issue 14)
  /** A script without a signature from a vault script-signing certificate, while unsigned runs are off. */
  "ERR_SCRIPT_UNSIGNED",
  /** A script's signature does not verify, or its signer is not a vault script signer. */
  "ERR_SCRIPT_SIGNATURE",
  /** A library name with characters outside letters, digits, '-', '_', '.' (or '.'/'..'). */
  "ERR_LIBRARY_NAME_INVALID",
  /** The target already exists (putfile without -overwrite, a library name without --overwrite). */
  "ERR_FILE_EXISTS",
  /** A device already has a pending batch. */
  "ERR_BATCH_PENDING",
  /** A remediation or undo whose target is not what the command names, or not allowed. */
  "ERR_REMEDIATION_REFUSED",
  /** Isolation that would cut the agent off from the vault server. */
  "ERR_ISOLATION_UNSAFE",
  /** A queued action that expired before its device came back. */
  "ERR_ACTION_EXPIRED",
  /** An action the source document asks a reason for (collect), given without one. */
  "ERR_REASON_REQUIRED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface CustodyErrorOptions {
  cause?: unknown;
  /** Machine-readable context (a path, a position, an expected and actual digest). */
  details?: Record<string, unknown>;
}

/** The one error class custody throws. Branch on `code`, never on the message. */
export class CustodyError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CustodyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CustodyError";
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isCustodyError(value: unknown, code?: ErrorCode): value is CustodyError {
  return value instanceof CustodyError && (code === undefined || value.code === code);
}

const SYSTEM_CODES: Record<string, ErrorCode> = {
  ENOENT: "ERR_NOT_FOUND",
  ENOTDIR: "ERR_NOT_FOUND",
  EEXIST: "ERR_ALREADY_EXISTS",
  EACCES: "ERR_PERMISSION",
  EPERM: "ERR_PERMISSION",
  EROFS: "ERR_PERMISSION",
  ENOSPC: "ERR_STORAGE_FULL",
  EDQUOT: "ERR_STORAGE_FULL",
  ABORT_ERR: "ERR_ABORTED",
  ETIMEDOUT: "ERR_TIMEOUT",
  ECONNREFUSED: "ERR_BACKEND_UNAVAILABLE",
  ECONNRESET: "ERR_BACKEND_UNAVAILABLE",
};

/**
 * Turns a low-level failure into exactly one coded error: a CustodyError passes through untouched (so
 * wrapping twice never hides the first code), a Node system error keeps a code that matches its errno,
 * anything else gets `fallback`.
 */
export function toCustodyError(cause: unknown, fallback: ErrorCode, message: string): CustodyError {
  if (cause instanceof CustodyError) return cause;
  const systemCode = systemErrorCode(cause);
  const code = (systemCode === undefined ? undefined : SYSTEM_CODES[systemCode]) ?? fallback;
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new CustodyError(code, `${message}${detail}`, { cause });
}

function systemErrorCode(cause: unknown): string | undefined {
  if (typeof cause !== "object" || cause === null) return undefined;
  if ((cause as { name?: unknown }).name === "AbortError") return "ABORT_ERR";
  const code = (cause as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** Throws ERR_ABORTED when the signal has fired; call it between units of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new CustodyError("ERR_ABORTED", "the operation was aborted", { cause: signal.reason });
  }
}
