import { isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";

/** The vault-wide hash lists `analyze` matches a file's sha256 against. */
export const hashListNameSchema = z.enum(["known-bad", "known-good"]);

export const hashListParamsSchema = z.strictObject({ list: hashListNameSchema });
export const hashEntryParamsSchema = z.strictObject({ list: hashListNameSchema, digest: sha256HexSchema });
export const hashListQuerySchema = z.strictObject({ list: hashListNameSchema.optional() });

export const hashAddBodySchema = z.strictObject({
  sha256: sha256HexSchema,
  note: z.string().max(500).optional(),
  name: z.string().max(255).optional(),
});

export const hashEntrySchema = z.object({
  list: hashListNameSchema,
  sha256: sha256HexSchema,
  note: z.string().optional(),
  name: z.string().optional(),
  addedAt: isoTimestampSchema,
  addedBy: z.string(),
});

export const hashEntriesSchema = z.array(hashEntrySchema);
