import { createHash, hash } from "node:crypto";
import { CustodyError } from "@custody/core/errors";

/** RFC 9162 §2.1.1 domain separation: a leaf (0x00) can never be mistaken for an inner node (0x01). */
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** Every Merkle hash here is a SHA-256 output. */
export const MERKLE_HASH_BYTES = 32;

// One-shot crypto.hash over a reused scratch buffer is ~1.7x faster than a Hash object per node,
// which matters to audit logs hashing millions of leaves. Safe to reuse: hashing is synchronous.
const SCRATCH_BYTES = 4096;
const scratch = Buffer.allocUnsafe(1 + SCRATCH_BYTES);

/** sha256(0x00 || data): the hash of one log entry. */
export function merkleLeafHash(data: Uint8Array): Buffer {
  if (data.byteLength > SCRATCH_BYTES) {
    return createHash("sha256").update(Buffer.of(LEAF_PREFIX)).update(data).digest();
  }
  scratch[0] = LEAF_PREFIX;
  scratch.set(data, 1);
  return digestOf(scratch.subarray(0, 1 + data.byteLength));
}

/** sha256(0x01 || left || right): the hash of an inner node. */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.byteLength + right.byteLength > SCRATCH_BYTES) {
    return createHash("sha256").update(Buffer.of(NODE_PREFIX)).update(left).update(right).digest();
  }
  scratch[0] = NODE_PREFIX;
  scratch.set(left, 1);
  scratch.set(right, 1 + left.byteLength);
  return digestOf(scratch.subarray(0, 1 + left.byteLength + right.byteLength));
}

// The digest as a latin1 string copied into a new Buffer (Node's small-buffer pool, as any small
// Buffer.from) costs ~0.4 us; a "buffer" digest, an ArrayBuffer of its own each, ~0.9-1.4 us.
function digestOf(input: Buffer): Buffer {
  return Buffer.from(hash("sha256", input, "binary"), "latin1");
}

/** The hash of the empty tree, sha256(""). */
export function emptyTreeHash(): Buffer {
  return createHash("sha256").digest();
}

/** MTH(D[n]) of RFC 9162 §2.1.1 over already-hashed leaves. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  checkHashes(leafHashes, "leaf hash");
  return leafHashes.length === 0 ? emptyTreeHash() : subtreeRoot(leafHashes, 0, leafHashes.length);
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1: the audit path for leaf `index`. */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  checkHashes(leafHashes, "leaf hash");
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafHashes.length) {
    throw invalidArgument(`leaf index ${index} is outside a tree of ${leafHashes.length} leaves`);
  }
  const proof: Buffer[] = [];
  let [start, end, m] = [0, leafHashes.length, index];
  const siblings: Buffer[] = [];
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m < k) {
      siblings.push(subtreeRoot(leafHashes, start + k, end));
      end = start + k;
    } else {
      siblings.push(subtreeRoot(leafHashes, start, start + k));
      start += k;
      m -= k;
    }
  }
  // The recursion in the RFC appends on the way back up, so the deepest sibling comes first.
  for (let i = siblings.length - 1; i >= 0; i--) proof.push(siblings[i] as Buffer);
  return proof;
}

/** PROOF(m, D[n]) of RFC 9162 §2.1.4.1: proves the first `oldSize` leaves are a prefix of all. */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number): Buffer[] {
  checkHashes(leafHashes, "leaf hash");
  const n = leafHashes.length;
  if (!Number.isSafeInteger(oldSize) || oldSize < 1 || oldSize > n) {
    throw invalidArgument(`old size ${oldSize} must be from 1 to the tree size ${n}`);
  }
  const reversed: Buffer[] = [];
  let [start, end, m, complete] = [0, n, oldSize, true];
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      reversed.push(subtreeRoot(leafHashes, start + k, end));
      end = start + k;
    } else {
      reversed.push(subtreeRoot(leafHashes, start, start + k));
      start += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) reversed.push(subtreeRoot(leafHashes, start, end));
  return reversed.reverse();
}

/** The root of leaves [start, end), computed bottom-up with O(log n) stack. */
export function subtreeRoot(leafHashes: readonly Uint8Array[], start: number, end: number): Buffer {
  const stack: Buffer[] = [];
  for (let i = start; i < end; i++) {
    let node: Buffer = Buffer.from(leafHashes[i] as Uint8Array);
    // Merge while the count so far has a trailing 1 bit: the two top nodes are equal-sized siblings.
    for (let count = i - start; count % 2 === 1; count = Math.floor(count / 2)) {
      node = merkleNodeHash(stack.pop() as Buffer, node);
    }
    stack.push(node);
  }
  return foldStack(stack);
}

/** Right-folds perfect subtree roots (largest first) into the MTH of the whole range. */
export function foldStack(stack: readonly Buffer[]): Buffer {
  let root = stack.at(-1) as Buffer;
  for (let i = stack.length - 2; i >= 0; i--) root = merkleNodeHash(stack[i] as Buffer, root);
  return root;
}

export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function checkHashes(hashes: readonly Uint8Array[], what: string): void {
  if (!Array.isArray(hashes)) throw invalidArgument(`expected an array of ${what}es`);
  hashes.forEach((hash, i) => {
    if (!(hash instanceof Uint8Array) || hash.byteLength !== MERKLE_HASH_BYTES) {
      throw invalidArgument(`${what} ${i} is not ${MERKLE_HASH_BYTES} bytes`);
    }
  });
}

function invalidArgument(message: string): CustodyError {
  return new CustodyError("ERR_INVALID_ARGUMENT", message);
}
