import { createHash } from "node:crypto";
import {
  CustodyError,
  canonicalJsonBytes,
  isCustodyError,
  isoTimestampSchema,
  sha256HexSchema,
} from "@custody/core";
import { type SignatureInfo, type Signer, type TrustOptions, verifyDetached } from "@custody/manifest";
import { z } from "zod";

export const CHECKPOINT_FORMAT = "custody.audit.checkpoint/v1";

/**
 * A signed statement "the log had `treeSize` records and this RFC 9162 root". `prevCheckpoint` is the
 * sha256 of the previous checkpoint's exact bytes (null for the first), so checkpoints form a chain
 * and a missing or foreign one shows.
 */
export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  treeSize: number;
  rootHash: string;
  time: string;
  prevCheckpoint: string | null;
}

/** A checkpoint with the exact bytes that were signed and the detached CMS signature (DER). */
export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  bytes: Buffer;
  signature: Buffer;
}

export const checkpointSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  treeSize: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  rootHash: sha256HexSchema,
  time: isoTimestampSchema,
  prevCheckpoint: sha256HexSchema.nullable(),
});

/** The JSON form of a signed checkpoint, for bundles handed to third parties (signature in base64). */
export const signedCheckpointJsonSchema = z.strictObject({
  checkpoint: checkpointSchema,
  signature: z.base64().max(256 * 1024),
});
export type SignedCheckpointJson = z.infer<typeof signedCheckpointJsonSchema>;

export function checkpointDigest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Builds and signs a checkpoint; the bytes are RFC 8785 canonical JSON. */
export async function signCheckpoint(checkpoint: Checkpoint, signer: Signer): Promise<SignedCheckpoint> {
  const parsed = checkpointSchema.parse(checkpoint) as Checkpoint;
  const bytes = canonicalJsonBytes(parsed);
  const signature = await signer.sign(bytes);
  return { checkpoint: parsed, bytes, signature: Buffer.from(signature) };
}

/** Parses stored checkpoint bytes; they must be the canonical form of a valid checkpoint. */
export function parseCheckpointBytes(bytes: Uint8Array, signature: Uint8Array): SignedCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (cause) {
    throw new CustodyError("ERR_AUDIT_CHECKPOINT_INVALID", "the checkpoint is not JSON", { cause });
  }
  const checkpoint = parseCheckpoint(value);
  if (!canonicalJsonBytes(checkpoint).equals(Buffer.from(bytes))) {
    throw new CustodyError("ERR_AUDIT_CHECKPOINT_INVALID", "the checkpoint is not in canonical form");
  }
  return { checkpoint, bytes: Buffer.from(bytes), signature: Buffer.from(signature) };
}

export function parseCheckpoint(value: unknown): Checkpoint {
  const parsed = checkpointSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CustodyError(
      "ERR_AUDIT_CHECKPOINT_INVALID",
      `invalid checkpoint: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
  }
  return parsed.data as Checkpoint;
}

/** How far a checkpoint's signing time may be from the time it states (clocks of signer and writer). */
export const CHECKPOINT_TIME_SKEW_MS = 5 * 60_000;

/**
 * Checks a checkpoint's signature against the trust anchors: only the vault signer role may sign one,
 * its certificates must be valid at the signing time (newer checkpoints anchor older ones), and the
 * signing time must be the checkpoint's own `time`. Any failure (bad signature, another role, signer not
 * under the anchors, revoked, a time that does not match) is ERR_AUDIT_CHECKPOINT_INVALID with the
 * signature error as cause.
 */
export function verifyCheckpointSignature(signed: SignedCheckpoint, trust: TrustOptions): SignatureInfo {
  let info: SignatureInfo;
  try {
    info = verifyDetached(signed.bytes, signed.signature, {
      ...trust,
      requiredRole: "vault-signer",
      validity: "signing-time",
    });
  } catch (cause) {
    const code = isCustodyError(cause) ? cause.code : "ERR_SIGNATURE_INVALID";
    throw new CustodyError(
      "ERR_AUDIT_CHECKPOINT_INVALID",
      `checkpoint ${signed.checkpoint.treeSize}: signature rejected (${code})`,
      { cause, details: { treeSize: signed.checkpoint.treeSize, signatureCode: code } },
    );
  }
  assertSignedAtItsTime(signed, info.signingTime);
  return info;
}

function assertSignedAtItsTime(signed: SignedCheckpoint, signingTime: Date): void {
  const stated = Date.parse(signed.checkpoint.time);
  if (Math.abs(signingTime.getTime() - stated) <= CHECKPOINT_TIME_SKEW_MS) return;
  throw new CustodyError(
    "ERR_AUDIT_CHECKPOINT_INVALID",
    `checkpoint ${signed.checkpoint.treeSize} states ${signed.checkpoint.time} but was signed at ${signingTime.toISOString()}`,
    { details: { treeSize: signed.checkpoint.treeSize, signingTime: signingTime.toISOString() } },
  );
}

export function signedCheckpointToJson(signed: SignedCheckpoint): SignedCheckpointJson {
  return { checkpoint: signed.checkpoint, signature: signed.signature.toString("base64") };
}

export function signedCheckpointFromJson(value: unknown): SignedCheckpoint {
  const parsed = signedCheckpointJsonSchema.safeParse(value);
  if (!parsed.success) {
    throw new CustodyError("ERR_AUDIT_CHECKPOINT_INVALID", "not a signed checkpoint", {
      details: { issues: parsed.error.issues },
    });
  }
  const checkpoint = parsed.data.checkpoint as Checkpoint;
  return {
    checkpoint,
    bytes: canonicalJsonBytes(checkpoint),
    signature: Buffer.from(parsed.data.signature, "base64"),
  };
}
