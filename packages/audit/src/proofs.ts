import { CustodyError } from "@custody/core";
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from "@custody/hash";
import type { TrustOptions } from "@custody/manifest";
import { z } from "zod";
import { ChainScanner, damagedError, scanRecords } from "./chain.js";
import {
  type SignedCheckpoint,
  type SignedCheckpointJson,
  signedCheckpointFromJson,
  signedCheckpointJsonSchema,
  signedCheckpointToJson,
  verifyCheckpointSignature,
} from "./checkpoint.js";
import { type AuditRecord, auditRecordSchema, recordLeafHash, recordText, sha256Hex } from "./record.js";
import type { AuditSource } from "./sink.js";

export const INCLUSION_BUNDLE_FORMAT = "custody.audit.inclusion/v1";
export const CONSISTENCY_BUNDLE_FORMAT = "custody.audit.consistency/v1";

const hashList = z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64);

/** Everything a third party needs, offline and with only the CA, to see that a record is in the log. */
export const inclusionBundleSchema = z.strictObject({
  format: z.literal(INCLUSION_BUNDLE_FORMAT),
  record: auditRecordSchema,
  proof: hashList,
  checkpoint: signedCheckpointJsonSchema,
});
export type InclusionProofBundle = {
  format: typeof INCLUSION_BUNDLE_FORMAT;
  record: AuditRecord;
  /** RFC 9162 audit path for leaf `record.seq` in the tree of `checkpoint.treeSize` (hex). */
  proof: string[];
  checkpoint: SignedCheckpointJson;
};

/** Shows that the log at a newer checkpoint still contains, unchanged, the log at an older one. */
export const consistencyBundleSchema = z.strictObject({
  format: z.literal(CONSISTENCY_BUNDLE_FORMAT),
  from: signedCheckpointJsonSchema,
  to: signedCheckpointJsonSchema,
  proof: hashList,
});
export type ConsistencyProofBundle = {
  format: typeof CONSISTENCY_BUNDLE_FORMAT;
  from: SignedCheckpointJson;
  to: SignedCheckpointJson;
  proof: string[];
};

/** Leaf hashes of the first `treeSize` records (32 bytes each, one buffer) and the records in `want`. */
async function readLeaves(source: AuditSource, treeSize: number, want: ReadonlySet<number> = new Set()) {
  const leaves = Buffer.alloc(treeSize * 32);
  const found = new Map<number, AuditRecord>();
  const scanner = new ChainScanner();
  const problem = await scanRecords(source.readBytes(), scanner, (record) => {
    recordLeafHash(record.hash).copy(leaves, record.seq * 32);
    if (want.has(record.seq)) found.set(record.seq, record);
    return scanner.count === treeSize ? "stop" : undefined;
  });
  if (problem !== undefined) throw damagedError(problem, source.description);
  if (scanner.count < treeSize) {
    throw new CustodyError(
      "ERR_AUDIT_TRUNCATED",
      `the log has ${scanner.count} records, fewer than ${treeSize}`,
    );
  }
  const list = Array.from({ length: treeSize }, (_, i) => leaves.subarray(i * 32, i * 32 + 32));
  return { list, found, root: scanner.accumulator.root().toString("hex") };
}

function assertRoot(root: string, signed: SignedCheckpoint): void {
  if (root !== signed.checkpoint.rootHash) {
    throw new CustodyError(
      "ERR_AUDIT_CHAIN_BROKEN",
      `the log does not match its signed checkpoint ${signed.checkpoint.treeSize}`,
      { details: { treeSize: signed.checkpoint.treeSize } },
    );
  }
}

/** Builds an inclusion bundle for record `seq` against `checkpoint` (which must cover it). */
export async function createInclusionBundle(
  source: AuditSource,
  seq: number,
  checkpoint: SignedCheckpoint,
): Promise<InclusionProofBundle> {
  return (await createInclusionBundles(source, [seq], checkpoint))[0] as InclusionProofBundle;
}

/** Bundles for many records in one read of the log (a custody report proves every event of an item). */
export async function createInclusionBundles(
  source: AuditSource,
  seqs: readonly number[],
  checkpoint: SignedCheckpoint,
): Promise<InclusionProofBundle[]> {
  const size = checkpoint.checkpoint.treeSize;
  for (const seq of seqs) {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= size) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `record ${seq} is not covered by checkpoint ${size}`, {
        details: { seq, treeSize: size },
      });
    }
  }
  const { list, found, root } = await readLeaves(source, size, new Set(seqs));
  assertRoot(root, checkpoint);
  const signed = signedCheckpointToJson(checkpoint);
  return seqs.map((seq) => ({
    format: INCLUSION_BUNDLE_FORMAT,
    record: found.get(seq) as AuditRecord,
    proof: inclusionProof(list, seq).map((h) => h.toString("hex")),
    checkpoint: signed,
  }));
}

/** Builds a consistency bundle from an older checkpoint to a newer one. */
export async function createConsistencyBundle(
  source: AuditSource,
  from: SignedCheckpoint,
  to: SignedCheckpoint,
): Promise<ConsistencyProofBundle> {
  const size1 = from.checkpoint.treeSize;
  const size2 = to.checkpoint.treeSize;
  if (size1 > size2) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `checkpoint ${size1} is newer than checkpoint ${size2}`);
  }
  const { list, root } = await readLeaves(source, size2);
  assertRoot(root, to);
  return {
    format: CONSISTENCY_BUNDLE_FORMAT,
    from: signedCheckpointToJson(from),
    to: signedCheckpointToJson(to),
    proof: consistencyProof(list, size1).map((h) => h.toString("hex")),
  };
}

function parseBundle<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CustodyError("ERR_PROOF_INVALID", `not ${what}: ${issue?.path.join(".")}: ${issue?.message}`, {
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}

/**
 * Checks an inclusion bundle offline: the record's own hash, the checkpoint's signature under `trust`,
 * and the audit path from the record's leaf to the signed root. Throws ERR_PROOF_INVALID (or
 * ERR_AUDIT_CHECKPOINT_INVALID for the signature); returns the verified record and checkpoint.
 */
export function verifyInclusionBundle(
  bundle: unknown,
  options: { trust: TrustOptions },
): { record: AuditRecord; checkpoint: SignedCheckpoint } {
  const parsed = parseBundle(inclusionBundleSchema, bundle, "an audit inclusion bundle");
  const record = parsed.record as AuditRecord;
  if (sha256Hex(recordText(record, record.hash).hashed) !== record.hash) {
    throw new CustodyError("ERR_PROOF_INVALID", `record ${record.seq} does not match its own hash`);
  }
  const checkpoint = signedCheckpointFromJson(parsed.checkpoint);
  verifyCheckpointSignature(checkpoint, options.trust);
  verifyInclusion({
    leafIndex: record.seq,
    treeSize: checkpoint.checkpoint.treeSize,
    leafHash: recordLeafHash(record.hash),
    proof: parsed.proof.map((h) => Buffer.from(h, "hex")),
    root: Buffer.from(checkpoint.checkpoint.rootHash, "hex"),
  });
  return { record, checkpoint };
}

/**
 * Checks a consistency bundle offline: both signatures, then that the newer tree extends the older one.
 * A failing proof means the two signed checkpoints may describe different histories (a fork).
 */
export function verifyConsistencyBundle(
  bundle: unknown,
  options: { trust: TrustOptions },
): { from: SignedCheckpoint; to: SignedCheckpoint } {
  const parsed = parseBundle(consistencyBundleSchema, bundle, "an audit consistency bundle");
  const from = signedCheckpointFromJson(parsed.from);
  const to = signedCheckpointFromJson(parsed.to);
  verifyCheckpointSignature(from, options.trust);
  verifyCheckpointSignature(to, options.trust);
  verifyConsistency({
    size1: from.checkpoint.treeSize,
    size2: to.checkpoint.treeSize,
    root1: Buffer.from(from.checkpoint.rootHash, "hex"),
    root2: Buffer.from(to.checkpoint.rootHash, "hex"),
    proof: parsed.proof.map((h) => Buffer.from(h, "hex")),
  });
  return { from, to };
}
