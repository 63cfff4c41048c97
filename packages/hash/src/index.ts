export { MerkleAccumulator } from "./accumulator.js";
export type { DigestResult, DigestSet, HashAlgorithm } from "./algorithms.js";
export {
  DIGEST_BYTES,
  HASH_ALGORITHMS,
  isHashAlgorithm,
  resolveAlgorithms,
} from "./algorithms.js";
export type { HashOptions } from "./digest.js";
export { createDigestStream, DigestStream, hashStream } from "./digest.js";
export { hashFile, READ_CHUNK_BYTES } from "./file.js";
export {
  consistencyProof,
  emptyTreeHash,
  inclusionProof,
  MERKLE_HASH_BYTES,
  merkleLeafHash,
  merkleNodeHash,
  merkleRoot,
} from "./merkle.js";
export type { RingSlot } from "./threaded.js";
export { ThreadedDigestStream } from "./threaded.js";
export type { HashTreeOptions, OtherType, TreeEntry } from "./tree.js";
export { hashTree } from "./tree.js";
export type { ConsistencyCheck, InclusionCheck } from "./verify.js";
export { verifyConsistency, verifyInclusion } from "./verify.js";
