import { isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";

// Response schemas describe what the server sends (for OpenAPI and for clients that validate). They are
// loose where a vault type is large and versioned by its own package (records, reports, proofs).

const digestSet = z.looseObject({ sha256: sha256HexSchema });

export const evidenceItemSchema = z.looseObject({
  format: z.string(),
  id: sha256HexSchema,
  kind: z.enum(["package", "file"]),
  caseId: z.string(),
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  size: z.number().int().nonnegative(),
  digests: digestSet,
  package: z.looseObject({ verified: z.boolean() }).optional(),
  acquisition: z.looseObject({}),
  retainUntil: z.string().optional(),
  legalHold: z.boolean(),
  storedAt: z.string(),
});

export const listedItemSchema = evidenceItemSchema.extend({ finding: z.string().optional() });

export const listPageSchema = z.object({
  items: z.array(listedItemSchema),
  nextCursor: z.string().optional(),
});

const pendingApprovalSchema = z.looseObject({ id: z.string(), expiresAt: z.string() });

export const approvalOutcomeSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("done"), message: z.string(), item: evidenceItemSchema.optional() }),
  z.object({ status: z.literal("pending"), request: pendingApprovalSchema }),
]);

export const checkResultSchema = z.object({
  id: z.string(),
  caseId: z.string().optional(),
  ok: z.boolean(),
  code: z.string().optional(),
  message: z.string().optional(),
});

export const checkResultsSchema = z.array(checkResultSchema);

export const signedCustodyReportSchema = z.looseObject({
  report: z.looseObject({ format: z.string() }),
  signature: z.string(),
});

const grantSchema = z.looseObject({ principal: z.string(), role: z.string(), scope: z.string() });

export const accessListingSchema = z.object({
  version: z.number().int(),
  hash: z.string(),
  custodians: z.array(z.string()),
  grants: z.array(grantSchema),
  pendingApprovals: z.array(pendingApprovalSchema),
});

export const identityIssueSchema = z.object({
  identityPem: z.string(),
  serialNumber: z.string(),
  fingerprintSha256: sha256HexSchema,
  status: z.enum(["active", "pending"]),
  request: pendingApprovalSchema.optional(),
});

export const identityRevocationSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("done"), revoked: z.array(z.looseObject({ serialNumber: z.string() })) }),
  z.object({ status: z.literal("pending"), request: pendingApprovalSchema }),
]);

export const whoAmISchema = z.object({
  id: z.string(),
  kind: z.string(),
  fingerprintSha256: z.string(),
  serialNumber: z.string(),
  grants: z.array(grantSchema),
});

export const checkpointSchema = z.object({
  format: z.string(),
  treeSize: z.number().int().positive(),
  rootHash: sha256HexSchema,
  time: isoTimestampSchema,
  prevCheckpoint: sha256HexSchema.nullable(),
});

/**
 * A signed checkpoint on the wire: its JSON form (`signedCheckpointToJson` in `@custody/audit`, the
 * signature in base64), in both directions; a client turns it back with `signedCheckpointFromJson`.
 */
export const signedCheckpointJsonSchema = z.strictObject({
  checkpoint: z.strictObject(checkpointSchema.shape),
  signature: z.base64().max(256 * 1024),
});

export const auditVerifyReportSchema = z.looseObject({
  ok: z.boolean(),
  records: z.number().int(),
  checkpoints: z.number().int(),
  rootHash: z.string(),
  unsignedRecords: z.number().int(),
  latestCheckpoint: z.looseObject({}).optional(),
  problem: z.looseObject({}).optional(),
});

export const auditRecordSchema = z.object({
  seq: z.number().int().nonnegative(),
  time: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  outcome: z.enum(["allow", "deny", "error"]),
  reason: z.string(),
  details: z.record(z.string(), z.unknown()),
  prev: z.string(),
  hash: z.string(),
  seal: z.string().optional(),
});

export const auditRecordsSchema = z.array(auditRecordSchema);

export const inclusionProofBundleSchema = z.looseObject({
  format: z.string(),
  record: auditRecordSchema,
  proof: z.array(z.string()),
  checkpoint: signedCheckpointJsonSchema,
});

export const signerRotationSchema = z.object({
  serialNumber: z.string(),
  fingerprintSha256: z.string(),
  previousFingerprintSha256: z.string().optional(),
});

export const healthSchema = z.object({ status: z.literal("ok") });

export type ListPage = z.infer<typeof listPageSchema>;
export type SignedCheckpointWire = z.infer<typeof signedCheckpointJsonSchema>;
