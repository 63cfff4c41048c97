import { CustodyError, canonicalJsonBytes, type JsonValue } from "@custody/core";
import type { VaultApi } from "./types.js";

type SignedCheckpoint = Awaited<ReturnType<VaultApi["checkpoint"]>>;

/** On the wire a signed checkpoint is `{checkpoint, signature: base64}` (as `signedCheckpointToJson`). */
export function checkpointToWire(signed: SignedCheckpoint): { checkpoint: unknown; signature: string } {
  return { checkpoint: signed.checkpoint, signature: signed.signature.toString("base64") };
}

/**
 * The signed checkpoint the server returned. Its signed bytes are the canonical JSON of the checkpoint,
 * recomputed here: a caller that verifies the signature checks what it was given, not what it was told.
 */
export function checkpointFromWire(value: unknown): SignedCheckpoint {
  const { checkpoint, signature } = (value ?? {}) as { checkpoint?: unknown; signature?: unknown };
  if (typeof checkpoint !== "object" || checkpoint === null || typeof signature !== "string") {
    throw new CustodyError("ERR_AUDIT_CHECKPOINT_INVALID", "the server's answer is not a signed checkpoint");
  }
  return {
    checkpoint: checkpoint as SignedCheckpoint["checkpoint"],
    bytes: canonicalJsonBytes(checkpoint as JsonValue),
    signature: Buffer.from(signature, "base64"),
  };
}
