import { CustodyError } from "@custody/core/errors";
import { emptyTreeHash, foldStack, MERKLE_HASH_BYTES, merkleNodeHash } from "./merkle.js";

/**
 * The RFC 9162 root of a growing list of leaf hashes, kept as the roots of its perfect subtrees
 * (one per set bit of the size): O(log n) memory and O(1) amortised hashing per append, so an audit
 * log of millions of records never holds them all.
 */
export class MerkleAccumulator {
  readonly #stack: Buffer[] = [];
  #size = 0;

  /** Resumes from `state()` of an earlier accumulator, e.g. after a restart. */
  static fromState(state: { size: number; subtreeRoots: readonly Uint8Array[] }): MerkleAccumulator {
    const { size, subtreeRoots } = state;
    if (!Number.isSafeInteger(size) || size < 0 || popCount(size) !== subtreeRoots.length) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "accumulator state: size and subtree roots disagree");
    }
    const accumulator = new MerkleAccumulator();
    for (const root of subtreeRoots) accumulator.#stack.push(copyHash(root));
    accumulator.#size = size;
    return accumulator;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds one leaf hash (from merkleLeafHash), exactly 32 bytes. */
  append(leafHash: Uint8Array): void {
    let node = copyHash(leafHash);
    for (let count = this.#size; count % 2 === 1; count = Math.floor(count / 2)) {
      node = merkleNodeHash(this.#stack.pop() as Buffer, node);
    }
    this.#stack.push(node);
    this.#size += 1;
  }

  /** MTH of everything appended; sha256("") while empty. */
  root(): Buffer {
    return this.#size === 0 ? emptyTreeHash() : foldStack(this.#stack);
  }

  /** What `fromState` needs: the size and the perfect subtree roots, largest first. */
  state(): { size: number; subtreeRoots: Buffer[] } {
    return { size: this.#size, subtreeRoots: this.#stack.map((h) => Buffer.from(h)) };
  }
}

function copyHash(hash: Uint8Array): Buffer {
  if (!(hash instanceof Uint8Array) || hash.byteLength !== MERKLE_HASH_BYTES) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `a Merkle leaf hash must be ${MERKLE_HASH_BYTES} bytes`);
  }
  return Buffer.from(hash);
}

function popCount(n: number): number {
  let count = 0;
  for (let k = n; k > 0; k = Math.floor(k / 2)) count += k % 2;
  return count;
}
