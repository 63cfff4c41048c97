import { createHash } from "node:crypto";
import { canonicalJsonBytes, digestSetSchema, isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import { diskImageSchema } from "./disk-image.js";

/**
 * A case id, exactly as `@custody/access` defines scope ids (its `scopeIdSchema`): repeated here so that
 * checking a report offline does not pull in the access package.
 */
const caseIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/,
    "ids are letters, digits, '.', '_', '@' and '-', at most 128",
  );

/** Who acquired an item, how, where and when: what a court asks first. */
export const acquisitionSchema = z.strictObject({
  by: z.string().min(1),
  byFingerprintSha256: sha256HexSchema,
  at: isoTimestampSchema,
  how: z.enum(["ingest", "collect", "acquire"]),
  where: z.string().min(1),
  tool: z.string().min(1),
  source: z.string(),
});

/** The immutable facts of an evidence item, fixed at ingest and stored with its bytes. */
export const itemRecordSchema = z.strictObject({
  format: z.literal("custody.item/v1"),
  id: sha256HexSchema,
  kind: z.enum(["package", "file"]),
  caseId: caseIdSchema,
  name: z.string().max(1024),
  labels: z.record(z.string().min(1).max(128), z.string().max(1024)),
  size: z.number().int().nonnegative(),
  digests: digestSetSchema,
  package: z
    .strictObject({
      verified: z.boolean(),
      manifestSha256: sha256HexSchema.optional(),
      packageName: z.string().optional(),
      deviceId: z.string().optional(),
      signer: z.string().optional(),
      /** From the signed manifest: when and by whom the package was collected, on which host, with what. */
      collectedAt: z.string().optional(),
      collectedBy: z.string().optional(),
      problems: z.array(
        z.strictObject({ code: z.string(), path: z.string().optional(), message: z.string() }),
      ),
    })
    .optional(),
  acquisition: acquisitionSchema,
  /** A disk image acquired by `custody acquire`: its source, times, read errors, verification. */
  image: diskImageSchema.optional(),
});

export type ItemRecord = z.infer<typeof itemRecordSchema>;
export type Acquisition = z.infer<typeof acquisitionSchema>;

/** sha256 (hex) of the record's RFC 8785 canonical JSON: the `recordSha256` of its ingest fact. */
export function itemRecordSha256(record: ItemRecord): string {
  return createHash("sha256").update(canonicalJsonBytes(record)).digest("hex");
}

/**
 * The audit target of an item: one case's copy of some bytes (the same bytes in two cases are two
 * items), so every record about it names both.
 */
export function itemAuditTarget(record: Pick<ItemRecord, "caseId" | "id">): string {
  return `item:${record.caseId}/${record.id}`;
}
