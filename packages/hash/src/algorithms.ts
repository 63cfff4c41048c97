import { CustodyError } from "@custody/core/errors";

/** The digests custody computes. sha256 is the default and the one manifests require. */
export const HASH_ALGORITHMS = ["sha256", "sha1", "md5", "sha512"] as const;

export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** Lower-case hex digests by algorithm; sha256 is there unless the caller asked only for others. */
export type DigestSet = Partial<Record<HashAlgorithm, string>> & { sha256?: string };

export interface DigestResult {
  /** Bytes hashed. */
  size: number;
  digests: DigestSet;
}

/** Bytes of each digest, for callers that check lengths. */
export const DIGEST_BYTES: Readonly<Record<HashAlgorithm, number>> = {
  sha256: 32,
  sha1: 20,
  md5: 16,
  sha512: 64,
};

export function isHashAlgorithm(value: unknown): value is HashAlgorithm {
  return typeof value === "string" && (HASH_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Checks and de-duplicates a requested algorithm list (default: sha256). Names are matched exactly,
 * lower case, so "SHA256" and "sha-256" are refused rather than silently guessed.
 */
export function resolveAlgorithms(requested: readonly unknown[] | undefined): HashAlgorithm[] {
  if (requested === undefined) return ["sha256"];
  if (!Array.isArray(requested) || requested.length === 0) {
    throw new CustodyError("ERR_UNSUPPORTED_ALGORITHM", "no hash algorithm requested", {
      details: { supported: [...HASH_ALGORITHMS] },
    });
  }
  const result: HashAlgorithm[] = [];
  for (const name of requested) {
    if (!isHashAlgorithm(name)) {
      throw new CustodyError(
        "ERR_UNSUPPORTED_ALGORITHM",
        `unsupported hash algorithm ${JSON.stringify(name)} (supported: ${HASH_ALGORITHMS.join(", ")})`,
        { details: { algorithm: String(name), supported: [...HASH_ALGORITHMS] } },
      );
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
}

/** Refuses a path that is not a plain non-empty string (a NUL byte would be cut off by the OS). */
export function assertPathArgument(path: unknown, what: string): asserts path is string {
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${what} must be a non-empty path without NUL bytes`, {
      details: { path: String(path) },
    });
  }
}
