import type { ErrorCode } from "@custody/core";

/** The documented exit codes of `custody`; scripts depend on them. */
export const EXIT = {
  ok: 0,
  verificationFailed: 1,
  usage: 2,
  accessDenied: 3,
  notFound: 4,
  conflict: 5,
  backendUnavailable: 6,
  storage: 7,
  internal: 10,
  /** stdout was closed by its reader (`custody list | head -1`): 128 + SIGPIPE, as coreutils end. */
  closedPipe: 141,
} as const;

/** What each documented exit code means (docs/cli.md and `custody --help` list these). */
export const EXIT_MEANINGS: Readonly<Record<number, string>> = {
  [EXIT.ok]: "success",
  [EXIT.verificationFailed]: "verification or integrity failure",
  [EXIT.usage]: "usage error",
  [EXIT.accessDenied]: "access denied",
  [EXIT.notFound]: "not found",
  [EXIT.conflict]: "conflict or immutable (exists, held, retained, third custodian)",
  [EXIT.backendUnavailable]: "backend unavailable",
  [EXIT.storage]: "local storage failure (disk full, quota, I/O error, permission)",
  [EXIT.internal]: "internal error",
  [EXIT.closedPipe]: "stdout closed by its reader (128 + SIGPIPE, as coreutils); nothing is printed",
};

const V = EXIT.verificationFailed;

/**
 * Every error code's exit code. A Record over ErrorCode, so a code added to core without an exit code
 * here does not compile.
 */
export const EXIT_CODE_BY_ERROR: Readonly<Record<ErrorCode, number>> = {
  ERR_INVALID_ARGUMENT: EXIT.usage,
  ERR_USAGE: EXIT.usage,
  ERR_INTERNAL: EXIT.internal,
  ERR_ABORTED: EXIT.internal,
  ERR_TIMEOUT: EXIT.backendUnavailable,
  ERR_IO: EXIT.storage,
  ERR_STORAGE_FULL: EXIT.storage,
  ERR_PERMISSION: EXIT.storage,
  ERR_NOT_FOUND: EXIT.notFound,
  ERR_ALREADY_EXISTS: EXIT.conflict,
  ERR_CONFLICT: EXIT.conflict,
  ERR_INTEGRITY_MISMATCH: V,
  ERR_IMMUTABLE: EXIT.conflict,
  ERR_BACKEND_UNAVAILABLE: EXIT.backendUnavailable,
  ERR_ACCESS_DENIED: EXIT.accessDenied,
  ERR_UNSUPPORTED_ALGORITHM: EXIT.usage,
  ERR_UNSUPPORTED_VERSION: V,
  ERR_CANONICAL_JSON: V,
  ERR_UNSAFE_PATH: V,
  ERR_DUPLICATE_PATH: V,
  ERR_SIZE_LIMIT: V,
  ERR_MANIFEST_INVALID: V,
  ERR_MERKLE_ROOT_MISMATCH: V,
  ERR_SIGNATURE_INVALID: V,
  ERR_DIGEST_MISMATCH: V,
  ERR_UNTRUSTED_SIGNER: V,
  ERR_CERT_EXPIRED: V,
  ERR_CERT_NOT_YET_VALID: V,
  ERR_CERT_REVOKED: V,
  ERR_CERT_USAGE: V,
  ERR_MALFORMED_SIGNATURE: V,
  ERR_MALFORMED_CERTIFICATE: V,
  ERR_MALFORMED_CRL: V,
  ERR_MALFORMED_KEY: EXIT.usage,
  ERR_PASSPHRASE_REQUIRED: EXIT.usage,
  ERR_ALGORITHM_NOT_ALLOWED: V,
  ERR_PROOF_INVALID: V,
  ERR_ARCHIVE_MALFORMED: V,
  ERR_ARCHIVE_SYMLINK: V,
  ERR_ARCHIVE_ENCRYPTED: V,
  ERR_ARCHIVE_UNSUPPORTED_METHOD: V,
  ERR_ARCHIVE_LIMIT: V,
  ERR_ARCHIVE_SIZE_MISMATCH: V,
  ERR_PACKAGE_INVALID: V,
  ERR_BAGIT_INVALID: V,
  ERR_MISSING_ENTRY: V,
  ERR_UNLISTED_ENTRY: V,
  ERR_OXUM_MISMATCH: V,
  ERR_TARGET_NOT_EMPTY: EXIT.conflict,
  ERR_AUDIT_RECORD_INVALID: V,
  ERR_AUDIT_CHAIN_BROKEN: V,
  ERR_AUDIT_TRUNCATED: V,
  ERR_AUDIT_FORK: V,
  ERR_AUDIT_CHECKPOINT_INVALID: V,
  ERR_AUDIT_LOCKED: EXIT.conflict,
  // Another writer raced this one for the same log position: retrying is the answer, as for a conflict.
  ERR_AUDIT_RACE: EXIT.conflict,
  // An unsigned tail found at open stops the vault until a custodian looks: an integrity finding.
  ERR_AUDIT_UNSEALED_TAIL: V,
  ERR_POLICY_INVALID: V,
  ERR_CUSTODIAN_LIMIT: EXIT.conflict,
  ERR_APPROVAL_REQUIRED: EXIT.accessDenied,
  ERR_IDENTITY_INVALID: EXIT.accessDenied,
  ERR_APPROVAL_EXPIRED: EXIT.conflict,
  ERR_VAULT_NOT_INITIALIZED: EXIT.notFound,
  ERR_PACKAGE_UNVERIFIED: V,
  ERR_NOT_PRESENT: EXIT.notFound,
  ERR_COLLECT_FAILED: EXIT.internal,
  // RFC 3161 timestamps: a token that does not check is an integrity finding; a TSA that refuses or
  // answers a different request is a service that cannot be used now
  ERR_TIMESTAMP_INVALID: V,
  ERR_TIMESTAMP_IMPRINT: V,
  ERR_TIMESTAMP_NONCE: EXIT.backendUnavailable,
  ERR_TIMESTAMP_UNTRUSTED: V,
  ERR_TIMESTAMP_OUTSIDE_VALIDITY: V,
  ERR_TIMESTAMP_REFUSED: EXIT.backendUnavailable,
  ERR_TIMESTAMP_MISSING: V,
  // disk acquisition (issue 18): a source that changed under the reader is an integrity finding
  ERR_SOURCE_CHANGED: V,
  ERR_SOURCE_UNSUPPORTED: EXIT.usage,
  ERR_COMPRESSION_UNAVAILABLE: EXIT.internal,
  // server (issue 12)
  ERR_RATE_LIMITED: EXIT.backendUnavailable,
  ERR_SERVER_BUSY: EXIT.backendUnavailable,
  // live response (issue 13)
  ERR_LIVE_RESPONSE_OFF: EXIT.accessDenied,
  ERR_ENROLLMENT_TOKEN_INVALID: EXIT.accessDenied,
  ERR_DEVICE_QUARANTINED: EXIT.accessDenied,
  ERR_DEVICE_OFFLINE: EXIT.backendUnavailable,
  ERR_SESSION_LIMIT: EXIT.conflict,
  ERR_SESSION_CLOSED: EXIT.conflict,
  ERR_PREREQUISITE: EXIT.usage,
  ERR_UNKNOWN_COMMAND: EXIT.usage,
  ERR_AGENT_POLICY: EXIT.accessDenied,
  ERR_REPLAY: EXIT.conflict,
  ERR_PROTOCOL: EXIT.internal,
  ERR_FILE_CHANGED: V,
  ERR_COMMAND_FAILED: EXIT.internal,
  ERR_INDEX_MISMATCH: V,
  ERR_SCRIPT_UNSIGNED: EXIT.accessDenied,
  ERR_SCRIPT_SIGNATURE: V,
  ERR_LIBRARY_NAME_INVALID: EXIT.usage,
  ERR_FILE_EXISTS: EXIT.conflict,
  ERR_BATCH_PENDING: EXIT.conflict,
  ERR_REMEDIATION_REFUSED: EXIT.accessDenied,
  ERR_ISOLATION_UNSAFE: EXIT.usage,
  ERR_ACTION_EXPIRED: EXIT.conflict,
  ERR_REASON_REQUIRED: EXIT.usage,
};

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODE_BY_ERROR[code] ?? EXIT.internal;
}
