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
  internal: 10,
} as const;

const VERIFICATION: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "ERR_INTEGRITY_MISMATCH",
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
  "ERR_ALGORITHM_NOT_ALLOWED",
  "ERR_PROOF_INVALID",
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
  "ERR_UNSAFE_PATH",
  "ERR_DUPLICATE_PATH",
  "ERR_AUDIT_RECORD_INVALID",
  "ERR_AUDIT_CHAIN_BROKEN",
  "ERR_AUDIT_TRUNCATED",
  "ERR_AUDIT_FORK",
  "ERR_AUDIT_CHECKPOINT_INVALID",
  "ERR_PACKAGE_UNVERIFIED",
  "ERR_MALFORMED_CERTIFICATE",
  "ERR_MALFORMED_CRL",
  "ERR_UNSUPPORTED_VERSION",
  "ERR_CANONICAL_JSON",
  "ERR_SIZE_LIMIT",
  "ERR_POLICY_INVALID",
]);

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  ERR_USAGE: EXIT.usage,
  ERR_INVALID_ARGUMENT: EXIT.usage,
  ERR_UNSUPPORTED_ALGORITHM: EXIT.usage,
  ERR_MALFORMED_KEY: EXIT.usage,
  ERR_PASSPHRASE_REQUIRED: EXIT.usage,
  ERR_ACCESS_DENIED: EXIT.accessDenied,
  ERR_APPROVAL_REQUIRED: EXIT.accessDenied,
  ERR_IDENTITY_INVALID: EXIT.accessDenied,
  ERR_NOT_FOUND: EXIT.notFound,
  ERR_VAULT_NOT_INITIALIZED: EXIT.notFound,
  ERR_ALREADY_EXISTS: EXIT.conflict,
  ERR_CONFLICT: EXIT.conflict,
  ERR_IMMUTABLE: EXIT.conflict,
  ERR_CUSTODIAN_LIMIT: EXIT.conflict,
  ERR_APPROVAL_EXPIRED: EXIT.conflict,
  ERR_TARGET_NOT_EMPTY: EXIT.conflict,
  ERR_AUDIT_LOCKED: EXIT.conflict,
  ERR_BACKEND_UNAVAILABLE: EXIT.backendUnavailable,
  ERR_TIMEOUT: EXIT.backendUnavailable,
};

export function exitCodeFor(code: ErrorCode): number {
  if (VERIFICATION.has(code)) return EXIT.verificationFailed;
  return BY_CODE[code] ?? EXIT.internal;
}
