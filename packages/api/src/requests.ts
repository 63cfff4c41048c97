import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";
import { signedCheckpointJsonSchema } from "./responses.js";

/** Case, device and identity-scoped ids: the same rule as the vault's (`@custody/access` scope ids). */
export const caseIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/,
    "ids are letters, digits, '.', '_', '@' and '-', at most 128",
  );

/** An item id: its SHA-256 in lower-case hex, or a unique prefix of 8+ digits as the CLI accepts. */
export const itemIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8,64}$/, "an item id is 8 to 64 lower-case hex digits (its SHA-256 or a prefix)");

export const identityNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, "letters, digits, . _ @ -; at most 64");

export const approvalRequestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "not a request id");

const booleanText = z.enum(["true", "false"]);
const decimal = (digits: number) => z.string().regex(new RegExp(`^[0-9]{1,${digits}}$`), "a decimal number");

export const itemParamsSchema = z.strictObject({ id: itemIdSchema });
export const itemQuerySchema = z.strictObject({ case: caseIdSchema.optional() });

/** `label=K=V`, repeatable; keys 1..128 characters, values up to 1024. */
export const labelTextSchema = z.string().regex(/^[^=]{1,128}=[\s\S]{0,1024}$/, "a label is KEY=VALUE");

/** The uploaded file's name (recorded as the item's name): one path segment, no control characters. */
export const uploadNameSchema = z
  .string()
  .regex(/^(?!\.\.?$)[^/\\\p{Cc}]{1,255}$/u, "a file name: one path segment, at most 255 characters");

/**
 * Digests to compute beside sha256 (the item's id, always computed), comma-separated: `sha1,md5`. The
 * shape is checked here; the names by the vault, which refuses one it does not know with
 * ERR_UNSUPPORTED_ALGORITHM before a byte is stored.
 */
export const ingestHashesSchema = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,16}(,[A-Za-z0-9-]{1,16}){0,15}$/, "digest names, comma-separated (e.g. sha1,md5)");

export const ingestQuerySchema = z.strictObject({
  case: caseIdSchema,
  name: uploadNameSchema.optional(),
  kind: z.enum(["auto", "package", "file"]).optional(),
  retainDays: decimal(6).optional(),
  legalHold: booleanText.optional(),
  allowUnverified: booleanText.optional(),
  label: z.union([labelTextSchema, z.array(labelTextSchema).max(64)]).optional(),
  hash: ingestHashesSchema.optional(),
});

export const MAX_LIST_LIMIT = 1000;

export const listQuerySchema = z.strictObject({
  case: caseIdSchema.optional(),
  limit: decimal(4).optional(),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, "not a cursor")
    .optional(),
});

export const retentionBodySchema = z.strictObject({ until: isoTimestampSchema });

export const approvalParamsSchema = z.strictObject({ requestId: approvalRequestIdSchema });

export const scopeSchema = z.union([
  z.literal("*"),
  z.templateLiteral(["case:", caseIdSchema]),
  z.templateLiteral(["device:", caseIdSchema]),
]);

/** A grant or revocation request (`GrantRequest`), `expiresAt` as an ISO timestamp. */
export const grantRequestSchema = z.strictObject({
  name: z.string().min(1).max(200),
  role: z.string().min(1).max(64),
  scope: scopeSchema,
  expiresAt: isoTimestampSchema.optional(),
});

export const issueIdentityBodySchema = z.strictObject({
  name: identityNameSchema,
  kind: z.enum(["person", "device"]).optional(),
});

export const identityParamsSchema = z.strictObject({ name: identityNameSchema });

export const verifyAuditBodySchema = z
  .strictObject({
    knownCheckpoints: z.array(signedCheckpointJsonSchema).max(1000).optional(),
  })
  .nullish();

export const showAuditQuerySchema = z.strictObject({ since: decimal(15).optional() });

export const proofParamsSchema = z.strictObject({ seq: decimal(15) });

/** POSTs that take no body: an absent body or `{}`. */
export const emptyBodySchema = z.strictObject({}).nullish();

/** Request headers of the upload route. */
export const UPLOAD_DIGEST_HEADER = "x-custody-sha256";
export const ITEM_HEADER = "x-custody-item";
export const REQUEST_ID_HEADER = "x-request-id";

export type IngestQuery = z.infer<typeof ingestQuerySchema>;
export type ListQuery = z.infer<typeof listQuerySchema>;
export type GrantRequestBody = z.infer<typeof grantRequestSchema>;
