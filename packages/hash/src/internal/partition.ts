import { availableParallelism } from "node:os";
import type { HashAlgorithm } from "../algorithms.js";

// Relative cost per byte with OpenSSL on x86-64 with SHA extensions: md5 cannot be vectorised and
// is the slowest; sha512 has no SHA-NI path. Only the ordering matters, not the exact values.
const COST: Readonly<Record<HashAlgorithm, number>> = { sha256: 2, sha1: 2, md5: 5, sha512: 4 };

/**
 * Splits algorithms into one group per usable core, balancing cost (longest first, each to the
 * lightest group). The first group is the lightest: the main thread takes it, as it also reads.
 */
export function partitionAlgorithms(
  algorithms: readonly HashAlgorithm[],
  cores: number = availableParallelism(),
): HashAlgorithm[][] {
  // At most three threads: each worker costs ~15 MiB and the whole process stays under 100 MiB.
  const count = Math.max(1, Math.min(cores, algorithms.length, 3));
  const groups = Array.from({ length: count }, () => ({ cost: 0, members: [] as HashAlgorithm[] }));
  const byCost = [...algorithms].sort((a, b) => COST[b] - COST[a]);
  for (const algorithm of byCost) {
    const lightest = groups.reduce((min, g) => (g.cost < min.cost ? g : min));
    lightest.members.push(algorithm);
    lightest.cost += COST[algorithm];
  }
  return groups.sort((a, b) => a.cost - b.cost).map((g) => g.members);
}
