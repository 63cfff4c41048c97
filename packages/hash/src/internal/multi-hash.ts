import { createHash, type Hash } from "node:crypto";
import type { DigestResult, DigestSet, HashAlgorithm } from "../algorithms.js";

/** Several digests fed from the same bytes, so evidence is read once whatever is asked for. */
export class MultiHash {
  readonly #hashes: [HashAlgorithm, Hash][];
  #size = 0;

  constructor(algorithms: readonly HashAlgorithm[]) {
    this.#hashes = algorithms.map((algorithm) => [algorithm, createHash(algorithm)]);
  }

  get size(): number {
    return this.#size;
  }

  update(bytes: Uint8Array): void {
    for (const [, hash] of this.#hashes) hash.update(bytes);
    this.#size += bytes.byteLength;
  }

  /** The digests; the object cannot be updated afterwards. */
  digests(): DigestSet {
    const result: DigestSet = {};
    for (const [algorithm, hash] of this.#hashes) result[algorithm] = hash.digest("hex");
    return result;
  }

  result(): DigestResult {
    return { size: this.#size, digests: this.digests() };
  }
}
