import { CustodyError } from "@custody/core";
import { type DigestSet, HASH_ALGORITHMS, type HashAlgorithm } from "@custody/hash";

// Which digests an ingest computes beside sha256 (the item's id), as a caller asks for them.

/** What `IngestOptions.hashes` may name. */
export type IngestHash = HashAlgorithm;

/** The digests an ingest computes beside sha256. */
export type ExtraHash = Exclude<HashAlgorithm, "sha256">;

/** At most this many names in a `hashes` list (there are only four algorithms; more is hostile). */
const MAX_HASH_NAMES = 16;

/**
 * The digests to compute beside sha256, from `IngestOptions.hashes` (none when absent), checked before a
 * byte is read: an unknown name, a name in another case or a list that is not one is refused with
 * ERR_UNSUPPORTED_ALGORITHM.
 */
export function resolveIngestHashes(requested: unknown): ExtraHash[] {
  if (requested === undefined) return [];
  if (!Array.isArray(requested) || requested.length > MAX_HASH_NAMES) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_ALGORITHM",
      `the digests to compute are a list of at most ${MAX_HASH_NAMES} names among ${HASH_ALGORITHMS.join(", ")}`,
      { details: { supported: [...HASH_ALGORITHMS] } },
    );
  }
  const extra: ExtraHash[] = [];
  for (const name of requested) {
    if (typeof name !== "string" || !(HASH_ALGORITHMS as readonly string[]).includes(name)) {
      const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 32)) : typeof name;
      throw new CustodyError(
        "ERR_UNSUPPORTED_ALGORITHM",
        `unsupported digest ${shown} (supported: ${HASH_ALGORITHMS.join(", ")}; sha256 is always computed)`,
        {
          details: {
            algorithm: typeof name === "string" ? name.slice(0, 32) : typeof name,
            supported: [...HASH_ALGORITHMS],
          },
        },
      );
    }
    if (name !== "sha256" && !extra.includes(name as ExtraHash)) extra.push(name as ExtraHash);
  }
  return extra;
}

/** Only the requested digests of a result, as the item records them. */
export function pickDigests(
  digests: DigestSet,
  algorithms: readonly ExtraHash[],
): Partial<Record<ExtraHash, string>> {
  const picked: Partial<Record<ExtraHash, string>> = {};
  for (const algorithm of algorithms) {
    const value = digests[algorithm];
    if (value === undefined) throw new CustodyError("ERR_INTERNAL", `no ${algorithm} digest was computed`);
    picked[algorithm] = value;
  }
  return picked;
}
