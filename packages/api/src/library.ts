import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";

// Requests and answers of the live-response library and the unsigned-scripts setting (issue 14).

/** Letters, digits, `-`, `_`, `.`; never starting with `.` or `-`; at most 128. */
export const libraryNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "a library name is letters, digits, '-', '_' and '.'");

// the vault checks names itself (ERR_LIBRARY_NAME_INVALID), so a hostile one gets its own code
const anyName = z.string().max(512);

export const libraryParamsSchema = z.strictObject({ name: anyName });

const base64 = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");

/** `POST /v1/library`: the file (and its detached CMS signature, DER) in base64. */
export const libraryUploadBodySchema = z.strictObject({
  name: anyName,
  contentBase64: base64(Math.ceil((2 * 1024 * 1024) / 3) * 4),
  signatureBase64: base64(Math.ceil((64 * 1024) / 3) * 4).optional(),
  description: z.string().max(1000).optional(),
  parameters: z.string().max(1000).optional(),
  overwrite: z.boolean().optional(),
});

export const libraryFileSchema = z.object({
  name: z.string(),
  version: z.number().int().positive(),
  versions: z.number().int().positive(),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  signed: z.boolean(),
  signer: z.string().optional(),
  signerFingerprintSha256: z.string().optional(),
  signatureSha256: z.string().optional(),
  description: z.string().optional(),
  parameters: z.string().optional(),
  uploadedAt: isoTimestampSchema,
  uploadedBy: z.string(),
  caseId: z.string(),
});

export const libraryFilesSchema = z.array(libraryFileSchema);

export const unsignedScriptsBodySchema = z.strictObject({ enabled: z.boolean() });

export const unsignedScriptsSettingSchema = z.object({
  enabled: z.boolean(),
  changedAt: isoTimestampSchema.optional(),
  changedBy: z.string().optional(),
});
