import { createHash } from "node:crypto";
import { isCustodyError } from "@custody/core";
import {
  consistencyProof,
  inclusionProof,
  MerkleAccumulator,
  merkleLeafHash,
  merkleNodeHash,
  merkleRoot,
  verifyConsistency,
  verifyInclusion,
} from "@custody/hash";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

// An independent reference written straight from RFC 9162 §2.1.1's recursive definition.
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const split = (n: number) => 2 ** Math.ceil(Math.log2(n) - 1);
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0] as Buffer;
  const k = split(leaves.length);
  return sha256(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const leavesOf = (n: number, seed = 0) =>
  Array.from({ length: n }, (_, i) => merkleLeafHash(Buffer.from(`leaf ${seed}/${i}`)));

function rejects(run: () => void): boolean {
  try {
    run();
    return false;
  } catch (error) {
    if (isCustodyError(error, "ERR_PROOF_INVALID")) return true;
    throw error;
  }
}

const flipBit = (b: Uint8Array, bit: number) => {
  const copy = Buffer.from(b);
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return copy;
};

describe("Merkle hashing", () => {
  it("separates leaves (0x00) from nodes (0x01)", () => {
    expect(merkleLeafHash(Buffer.from("x"))).toEqual(sha256(Buffer.from([0]), Buffer.from("x")));
    for (const size of [0, 4095, 4096, 4097, 70_000]) {
      const data = Buffer.alloc(size, size % 251);
      expect(merkleLeafHash(data)).toEqual(sha256(Buffer.from([0]), data));
    }
    const leaf = merkleLeafHash(Buffer.from("y"));
    expect(merkleLeafHash(Buffer.from("y"))).toEqual(leaf); // no state leaks between calls
    const [a, b] = leavesOf(2) as [Buffer, Buffer];
    expect(merkleNodeHash(a, b)).toEqual(sha256(Buffer.from([1]), a, b));
    expect(merkleRoot([])).toEqual(sha256());
    expect(merkleRoot([])?.toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  it("matches the RFC's recursive definition for every size up to 70", () => {
    for (let n = 0; n <= 70; n++) expect(merkleRoot(leavesOf(n))).toEqual(mth(leavesOf(n)));
  });

  it("refuses leaf hashes that are not 32 bytes", () => {
    expect(() => merkleRoot([Buffer.alloc(31)])).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
    expect(() => new MerkleAccumulator().append(Buffer.alloc(33))).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
    expect(() => inclusionProof(leavesOf(3), 3)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
    expect(() => consistencyProof(leavesOf(3), 0)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
  });

  it("the accumulator keeps the root of every prefix with O(log n) state and can resume", () => {
    const leaves = leavesOf(300);
    const acc = new MerkleAccumulator();
    expect(acc.root()).toEqual(merkleRoot([]));
    leaves.forEach((leaf, i) => {
      acc.append(leaf);
      if (i % 17 === 0 || i === leaves.length - 1) expect(acc.root()).toEqual(mth(leaves.slice(0, i + 1)));
    });
    expect(acc.size).toBe(300);
    const state = acc.state();
    expect(state.subtreeRoots.length).toBe(4); // 300 = 0b100101100
    const resumed = MerkleAccumulator.fromState(state);
    resumed.append(leavesOf(1, 9)[0] as Buffer);
    acc.append(leavesOf(1, 9)[0] as Buffer);
    expect(resumed.root()).toEqual(acc.root());
    expect(() => MerkleAccumulator.fromState({ size: 3, subtreeRoots: state.subtreeRoots })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
  });
});

describe("proofs (property tests)", () => {
  const treeAndIndex = fc
    .integer({ min: 1, max: 80 })
    .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }), fc.nat(1000)));

  it("every inclusion proof verifies against the root", () => {
    fc.assert(
      fc.property(treeAndIndex, ([n, index, seed]) => {
        const leaves = leavesOf(n, seed);
        const proof = inclusionProof(leaves, index);
        verifyInclusion({
          leafIndex: index,
          treeSize: n,
          leafHash: leaves[index] as Buffer,
          proof,
          root: mth(leaves),
        });
      }),
      { numRuns: 200 },
    );
  });

  // Sizes are only mutated where the claim becomes impossible: a tree of another size can share the
  // proof's shape (leaf 0 of 5 and of 6 both have three right siblings), which RFC 9162 allows.
  it("any change to an inclusion proof, index, leaf or root is rejected", () => {
    fc.assert(
      fc.property(treeAndIndex, fc.nat(), fc.nat(), ([n, index, seed], pick, bit) => {
        const leaves = leavesOf(n, seed);
        const good = {
          leafIndex: index,
          treeSize: n,
          leafHash: leaves[index] as Buffer,
          proof: inclusionProof(leaves, index),
          root: mth(leaves),
        };
        const mutations = [
          { ...good, leafHash: flipBit(good.leafHash, bit % 256) },
          { ...good, root: flipBit(good.root, bit % 256) },
          {
            ...good,
            leafIndex: (index + 1 + (pick % n)) % (n + 1) === index ? n : (index + 1 + (pick % n)) % (n + 1),
          },
          { ...good, treeSize: index },
          { ...good, proof: [...good.proof, good.root] },
        ];
        if (good.proof.length > 0) {
          const at = pick % good.proof.length;
          const flipped = good.proof.map((p, i) => (i === at ? flipBit(p, bit % 256) : p));
          mutations.push({ ...good, proof: flipped }, { ...good, proof: good.proof.slice(1) });
        }
        for (const bad of mutations) {
          // A different index can share the proof only if it names the same leaf: never here.
          expect(rejects(() => verifyInclusion(bad))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  const twoSizes = fc
    .integer({ min: 1, max: 80 })
    .chain((n) => fc.tuple(fc.integer({ min: 1, max: n }), fc.constant(n), fc.nat(1000)));

  it("every consistency proof verifies, and any change is rejected", () => {
    fc.assert(
      fc.property(twoSizes, fc.nat(), fc.nat(), ([m, n, seed], pick, bit) => {
        const leaves = leavesOf(n, seed);
        const good = {
          size1: m,
          size2: n,
          root1: mth(leaves.slice(0, m)),
          root2: mth(leaves),
          proof: consistencyProof(leaves, m),
        };
        verifyConsistency(good);
        const mutations = [
          { ...good, root1: flipBit(good.root1, bit % 256) },
          { ...good, root2: flipBit(good.root2, bit % 256) },
          { ...good, size2: m - 1 },
          { ...good, proof: [...good.proof, good.root2] },
          { ...good, size1: 0 },
        ];
        if (m > 1 && m < n) mutations.push({ ...good, size1: m - 1 });
        if (good.proof.length > 0) {
          const at = pick % good.proof.length;
          const flipped = good.proof.map((p, i) => (i === at ? flipBit(p, bit % 256) : p));
          mutations.push({ ...good, proof: flipped }, { ...good, proof: good.proof.slice(0, -1) });
        }
        for (const bad of mutations) expect(rejects(() => verifyConsistency(bad))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("rejects malformed input with ERR_PROOF_INVALID, never another error", () => {
    const leaves = leavesOf(5);
    const root = mth(leaves);
    const good = {
      leafIndex: 2,
      treeSize: 5,
      leafHash: leaves[2] as Buffer,
      proof: inclusionProof(leaves, 2),
      root,
    };
    verifyInclusion(good);
    for (const bad of [
      { ...good, leafIndex: -1 },
      { ...good, leafIndex: 1.5 },
      { ...good, treeSize: Number.NaN },
      { ...good, treeSize: 2 ** 60 },
      { ...good, root: root.subarray(0, 31) },
      { ...good, proof: [...good.proof.slice(0, -1), Buffer.alloc(33)] },
      { ...good, proof: "nope" as unknown as Buffer[] },
    ]) {
      expect(rejects(() => verifyInclusion(bad))).toBe(true);
    }
    for (const nothing of [undefined, null, "proof"]) {
      expect(rejects(() => verifyInclusion(nothing as unknown as typeof good))).toBe(true);
      expect(
        rejects(() => verifyConsistency(nothing as unknown as Parameters<typeof verifyConsistency>[0])),
      ).toBe(true);
    }
    expect(() => merkleRoot("leaves" as unknown as Buffer[])).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
  });
});
