import { CustodyError, canonicalJson, type ErrorCode, isCustodyError } from "@custody/core";
import { verifyInclusion } from "@custody/hash";
import type { TrustOptions } from "@custody/manifest";
import type { Checkpoint } from "../checkpoint.js";
import { type InclusionProofBundle, verifyInclusionBundle } from "../proofs.js";
import { type AuditRecord, recordLeafHash } from "../record.js";

/**
 * One proof per event, each for exactly that record, all against one checkpoint. The first proof is
 * checked whole (verifyInclusionBundle: record hash, checkpoint signature, audit path); the others are
 * against that same, already verified checkpoint, so only their audit paths are left to check: the
 * signature is checked once, not once per event (about 1 ms each).
 */
export function checkProofs(
  events: readonly AuditRecord[],
  proofs: readonly InclusionProofBundle[],
  trust: TrustOptions,
): Checkpoint {
  const first = proofs[0];
  if (proofs.length !== events.length || first === undefined) {
    throw new CustodyError(
      "ERR_PROOF_INVALID",
      `the report carries ${proofs.length} proofs for ${events.length} events: it needs one per event`,
    );
  }
  const anchor = canonicalJson(first.checkpoint);
  events.forEach((event, index) => {
    const bundle = proofs[index] as InclusionProofBundle;
    checkMatch(event, bundle, anchor);
    if (index === 0) verifyWhole(event, bundle, trust);
    else verifyPath(event, bundle);
  });
  return first.checkpoint.checkpoint as Checkpoint;
}

function checkMatch(event: AuditRecord, bundle: InclusionProofBundle, anchor: string): void {
  if (canonicalJson(bundle.record) !== canonicalJson(event)) {
    throw new CustodyError(
      "ERR_PROOF_INVALID",
      `the proof for event ${event.seq} is for record ${bundle.record.seq}, another record`,
      { details: { seq: event.seq, proofSeq: bundle.record.seq } },
    );
  }
  if (canonicalJson(bundle.checkpoint) !== anchor) {
    throw new CustodyError(
      "ERR_PROOF_INVALID",
      `the proof for event ${event.seq} is against checkpoint ${bundle.checkpoint.checkpoint.treeSize}, not the report's one checkpoint`,
      { details: { seq: event.seq, treeSize: bundle.checkpoint.checkpoint.treeSize } },
    );
  }
}

function verifyWhole(event: AuditRecord, bundle: InclusionProofBundle, trust: TrustOptions): void {
  try {
    verifyInclusionBundle(bundle, { trust });
  } catch (cause) {
    throw rethrow(cause, `the proof for event ${event.seq}`, "ERR_PROOF_INVALID");
  }
}

function verifyPath(event: AuditRecord, bundle: InclusionProofBundle): void {
  const { checkpoint } = bundle.checkpoint;
  try {
    verifyInclusion({
      leafIndex: event.seq,
      treeSize: checkpoint.treeSize,
      leafHash: recordLeafHash(event.hash),
      proof: bundle.proof.map((h) => Buffer.from(h, "hex")),
      root: Buffer.from(checkpoint.rootHash, "hex"),
    });
  } catch (cause) {
    throw rethrow(cause, `the proof for event ${event.seq}`, "ERR_PROOF_INVALID");
  }
}

/** Keeps the code of a failure from a lower layer and says which part of the report it concerns. */
export function rethrow(cause: unknown, what: string, fallback: ErrorCode): CustodyError {
  if (!isCustodyError(cause)) return new CustodyError(fallback, `${what} could not be checked`, { cause });
  return new CustodyError(cause.code, `${what}: ${cause.message}`, { cause, details: cause.details });
}
