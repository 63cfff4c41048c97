import { timingSafeEqual } from "node:crypto";
import { CustodyError } from "@custody/core/errors";
import { MERKLE_HASH_BYTES, merkleNodeHash } from "./merkle.js";

export interface InclusionCheck {
  leafIndex: number;
  treeSize: number;
  leafHash: Uint8Array;
  proof: readonly Uint8Array[];
  root: Uint8Array;
}

export interface ConsistencyCheck {
  size1: number;
  size2: number;
  root1: Uint8Array;
  root2: Uint8Array;
  proof: readonly Uint8Array[];
}

/** RFC 9162 §2.1.3.2. Returns only when the proof holds; otherwise throws ERR_PROOF_INVALID. */
export function verifyInclusion(check: InclusionCheck): void {
  if (typeof check !== "object" || check === null) reject("no proof to check");
  const { leafIndex, treeSize } = check;
  checkSize(leafIndex, "leafIndex");
  checkSize(treeSize, "treeSize");
  checkHash(check.leafHash, "leafHash");
  checkHash(check.root, "root");
  checkProof(check.proof);
  if (leafIndex >= treeSize) reject(`leaf index ${leafIndex} is not below the tree size ${treeSize}`);
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Uint8Array = check.leafHash;
  for (const p of check.proof) {
    if (sn === 0) reject("the proof is longer than the tree is deep");
    if (isOdd(fn) || fn === sn) {
      r = merkleNodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = merkleNodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0) reject("the proof is shorter than the tree is deep");
  if (!sameHash(r, check.root)) reject("the proof does not lead to the root");
}

/**
 * RFC 9162 §2.1.4.2. Size 0 is refused (nothing is proven by it). Equal sizes need an empty proof and
 * byte-identical roots, as in the reference implementation (transparency-dev/merkle), whose vector
 * for that case uses short placeholder roots; every other hash must be exactly 32 bytes.
 * Returns only when the proof holds; otherwise throws ERR_PROOF_INVALID.
 */
export function verifyConsistency(check: ConsistencyCheck): void {
  if (typeof check !== "object" || check === null) reject("no proof to check");
  const { size1, size2 } = check;
  checkSize(size1, "size1");
  checkSize(size2, "size2");
  checkProof(check.proof);
  if (size1 === 0) reject("a consistency proof from the empty tree proves nothing");
  if (size2 < size1) reject(`size2 ${size2} is smaller than size1 ${size1}`);
  if (size1 === size2) {
    if (check.proof.length > 0) reject("equal sizes need an empty proof");
    if (!sameHash(check.root1, check.root2)) reject("equal sizes but different roots");
    return;
  }
  checkHash(check.root1, "root1");
  checkHash(check.root2, "root2");
  if (check.proof.length === 0) reject("the proof is empty");
  const path = isPowerOfTwo(size1) ? [check.root1, ...check.proof] : [...check.proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) reject("the proof is longer than needed");
    if (isOdd(fn) || fn === sn) {
      fr = merkleNodeHash(c, fr);
      sr = merkleNodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = merkleNodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0) reject("the proof is shorter than needed");
  if (!sameHash(fr, check.root1)) reject("the proof does not lead to root1");
  if (!sameHash(sr, check.root2)) reject("the proof does not lead to root2");
}

// Sizes can pass 2^32, so no bitwise operators: they would truncate to 32 bits.
const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);
const isPowerOfTwo = (n: number): boolean => {
  let k = n;
  while (k > 1 && !isOdd(k)) k = half(k);
  return k === 1;
};

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) reject("a root is not bytes");
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

function checkSize(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) reject(`${name} must be a non-negative integer`);
}

function checkProof(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) reject("the proof must be an array of hashes");
  for (const [i, p] of proof.entries()) checkHash(p, `proof[${i}]`);
}

function checkHash(value: Uint8Array, name: string): void {
  if (!(value instanceof Uint8Array) || value.byteLength !== MERKLE_HASH_BYTES) {
    reject(`${name} must be exactly ${MERKLE_HASH_BYTES} bytes`);
  }
}

function reject(reason: string): never {
  throw new CustodyError("ERR_PROOF_INVALID", `Merkle proof rejected: ${reason}`, { details: { reason } });
}
