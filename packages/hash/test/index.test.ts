import * as hash from "@custody/hash";
import { describe, expect, it } from "vitest";

describe("@custody/hash public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(hash).sort()).toEqual(
      [
        "DIGEST_BYTES",
        "DigestStream",
        "ThreadedDigestStream",
        "ThreadedHasher",
        "HASH_ALGORITHMS",
        "MERKLE_HASH_BYTES",
        "MerkleAccumulator",
        "READ_CHUNK_BYTES",
        "consistencyProof",
        "createDigestStream",
        "emptyTreeHash",
        "hashFile",
        "hashStream",
        "hashTree",
        "inclusionProof",
        "isHashAlgorithm",
        "merkleLeafHash",
        "merkleNodeHash",
        "merkleRoot",
        "resolveAlgorithms",
        "verifyConsistency",
        "verifyInclusion",
      ].sort(),
    );
  });

  it("has the contract's shapes", async () => {
    expect(hash.HASH_ALGORITHMS).toEqual(["sha256", "sha1", "md5", "sha512"]);
    expect(hash.READ_CHUNK_BYTES).toBe(1024 * 1024);
    expect(hash.MERKLE_HASH_BYTES).toBe(32);
    expect(hash.resolveAlgorithms(undefined)).toEqual(["sha256"]);
    expect(hash.resolveAlgorithms(["md5", "md5", "sha1"])).toEqual(["md5", "sha1"]);
    expect(hash.isHashAlgorithm("sha512")).toBe(true);
    expect(hash.isHashAlgorithm("SHA512")).toBe(false);
    expect(hash.createDigestStream()).toBeInstanceOf(hash.DigestStream);
    const tree = hash.hashTree(".");
    expect(typeof tree[Symbol.asyncIterator]).toBe("function");
    await tree.return(undefined);
    const leaf = hash.merkleLeafHash(Buffer.from("x"));
    expect(leaf.byteLength).toBe(32);
    expect(hash.merkleRoot([leaf])).toEqual(leaf);
  });

  it("builds the custody manifest's Merkle root as the contract describes", () => {
    const items = [{ sha256: "ab".repeat(32) }, { sha256: "cd".repeat(32) }];
    const leaves = items.map((i) => hash.merkleLeafHash(Buffer.from(i.sha256, "hex")));
    const acc = new hash.MerkleAccumulator();
    for (const leaf of leaves) acc.append(leaf);
    expect(acc.root()).toEqual(hash.merkleRoot(leaves));
    expect(hash.merkleRoot(leaves)).toEqual(hash.merkleNodeHash(leaves[0] as Buffer, leaves[1] as Buffer));
  });
});
