import { createHash } from "node:crypto";
import { CustodyError } from "@custody/core";
import { type ConsistencyCheck, merkleLeafHash, merkleRoot, verifyConsistency } from "@custody/hash";
import { describe, expect, it } from "vitest";

// The README's two rules RFC 9162 leaves implicit: a consistency proof from size 0 proves nothing, and
// with equal sizes the proof is empty and the roots identical.
const leaves = [1, 2, 3].map((i) => merkleLeafHash(createHash("sha256").update(String(i)).digest()));
const root = (n: number) => merkleRoot(leaves.slice(0, n));

function codeOf(check: ConsistencyCheck): string {
  try {
    verifyConsistency(check);
    return "accepted";
  } catch (error) {
    return error instanceof CustodyError ? error.code : "not a CustodyError";
  }
}

describe("verifyConsistency's implicit rules", () => {
  it("refuses a proof from size 0, and equal sizes unless the proof is empty and the roots identical", () => {
    expect(codeOf({ size1: 0, size2: 3, root1: root(0), root2: root(3), proof: [] })).toBe(
      "ERR_PROOF_INVALID",
    );
    expect(codeOf({ size1: 3, size2: 3, root1: root(3), root2: root(3), proof: [] })).toBe("accepted");
    expect(codeOf({ size1: 3, size2: 3, root1: root(3), root2: root(3), proof: [root(1)] })).toBe(
      "ERR_PROOF_INVALID",
    );
    expect(codeOf({ size1: 3, size2: 3, root1: root(3), root2: root(2), proof: [] })).toBe(
      "ERR_PROOF_INVALID",
    );
  });
});
