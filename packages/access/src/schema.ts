import { isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import { roleDefinitionSchema, roleNameSchema } from "./roles.js";
import { resourceSchema, scopeSchema } from "./scope.js";

/** The policy file format; a reader refuses a format it does not know. */
export const POLICY_FORMAT = "custody.access-policy/v1";

/** An RFC 3339 UTC timestamp that names a real instant (no 30 February). */
export const timestampSchema = isoTimestampSchema.refine(
  (text) => !Number.isNaN(Date.parse(text)) && new Date(text).toISOString() === text,
  "not a real date and time",
);

/** Principal ids: printable text without control characters or surrounding spaces. */
export const principalIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s\p{Cc}\p{Cf}](?:[^\p{Cc}\p{Cf}]*[^\s\p{Cc}\p{Cf}])?$/u, "not a printable principal id");

export const principalSchema = z.strictObject({
  id: principalIdSchema,
  kind: z.enum(["person", "device", "service"]),
  fingerprintSha256: sha256HexSchema.optional(),
});

export const grantSchema = z.strictObject({
  principal: principalIdSchema,
  role: roleNameSchema,
  scope: scopeSchema,
  expiresAt: timestampSchema.optional(),
  grantedBy: principalIdSchema,
  grantedAt: timestampSchema,
});

const grantChangeSchema = z.strictObject({
  kind: z.literal("grant"),
  principal: principalIdSchema,
  role: roleNameSchema,
  scope: scopeSchema,
  expiresAt: timestampSchema.optional(),
});

const revokeChangeSchema = z.strictObject({
  kind: z.literal("revoke"),
  principal: principalIdSchema,
  role: roleNameSchema,
  scope: scopeSchema,
});

const defineRoleChangeSchema = z.strictObject({
  kind: z.literal("define-role"),
  name: roleNameSchema,
  role: roleDefinitionSchema,
});

const removeRoleChangeSchema = z.strictObject({ kind: z.literal("remove-role"), name: roleNameSchema });

/** Changes to the policy document itself. */
export const policyChangeSchema = z.discriminatedUnion("kind", [
  grantChangeSchema,
  revokeChangeSchema,
  defineRoleChangeSchema,
  removeRoleChangeSchema,
]);

/** Vault operations that need a second custodian; the vault performs them once approved. */
const releaseHoldSchema = z.strictObject({ kind: z.literal("release-hold"), resource: resourceSchema });
const purgeSchema = z.strictObject({ kind: z.literal("purge"), resource: resourceSchema });
/** A login certificate issued for a custodian's name takes effect only once the other custodian approves. */
const activateIdentitySchema = z.strictObject({
  kind: z.literal("activate-identity"),
  principal: principalIdSchema,
  serialNumber: z.string().regex(/^[0-9A-F]{1,64}$/),
});
const revokeIdentitySchema = z.strictObject({
  kind: z.literal("revoke-identity"),
  principal: principalIdSchema,
});

export const operationChangeSchema = z.discriminatedUnion("kind", [
  releaseHoldSchema,
  purgeSchema,
  activateIdentitySchema,
  revokeIdentitySchema,
]);

export const approvableChangeSchema = z.discriminatedUnion("kind", [
  grantChangeSchema,
  revokeChangeSchema,
  defineRoleChangeSchema,
  removeRoleChangeSchema,
  releaseHoldSchema,
  purgeSchema,
  activateIdentitySchema,
  revokeIdentitySchema,
]);

export const requestIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "not a request id");

export const pendingApprovalSchema = z.strictObject({
  id: requestIdSchema,
  change: approvableChangeSchema,
  proposedBy: principalIdSchema,
  proposedAt: timestampSchema,
  expiresAt: timestampSchema,
});

/** What produced a version: kept in the document so the history explains itself. */
export const policyEventSchema = z.strictObject({
  kind: z.enum(["init", "apply", "propose", "approve", "cancel"]),
  by: principalIdSchema,
  at: timestampSchema,
  change: approvableChangeSchema.optional(),
  requestId: requestIdSchema.optional(),
  proposedBy: principalIdSchema.optional(),
});

export const accessPolicySchema = z.strictObject({
  format: z.literal(POLICY_FORMAT),
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  previous: sha256HexSchema.nullable(),
  event: policyEventSchema,
  roles: z.record(roleNameSchema, roleDefinitionSchema),
  grants: z.array(grantSchema).max(10_000),
  pendingApprovals: z.array(pendingApprovalSchema).max(1_000),
});

export type Principal = z.infer<typeof principalSchema>;
/** Who asks or acts: only the id is used; an authenticated principal may carry more (a certificate serial). */
export interface Actor {
  readonly id: string;
  readonly kind?: Principal["kind"];
  readonly fingerprintSha256?: string;
  readonly serialNumber?: string;
}
export type Grant = z.infer<typeof grantSchema>;
export type PolicyChange = z.infer<typeof policyChangeSchema>;
export type OperationChange = z.infer<typeof operationChangeSchema>;
export type ApprovableChange = z.infer<typeof approvableChangeSchema>;
export type PendingApproval = z.infer<typeof pendingApprovalSchema>;
export type PolicyEvent = z.infer<typeof policyEventSchema>;
export type AccessPolicy = z.infer<typeof accessPolicySchema>;
