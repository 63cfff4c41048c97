import { isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";

/** What identifies the source of a disk image: what a court asks about the original. */
export const imageSourceSchema = z.strictObject({
  kind: z.enum(["block-device", "file", "azure-snapshot"]),
  /** The path read, or the snapshot's URL without its query (a SAS is a secret and never recorded). */
  path: z.string().min(1).max(4096),
  size: z.number().int().nonnegative(),
  /** Logical sector size: the unit in which read errors are retried and zero-filled. */
  sectorSize: z.number().int().positive(),
  /** From /sys (model, vendor, serial, wwid, device-mapper name, loop backing file) or the blob's properties. */
  identification: z.record(z.string().min(1).max(64), z.string().max(1024)),
});

/** A run of unreadable sectors, zero-filled in the image. */
export const readErrorSchema = z.strictObject({
  offset: z.number().int().nonnegative(),
  length: z.number().int().positive(),
  code: z.string().max(64),
});

/** The facts of an acquired disk image, recorded with the item and bound by its ingest fact. */
export const diskImageSchema = z.strictObject({
  source: imageSourceSchema,
  startedAt: isoTimestampSchema,
  endedAt: isoTimestampSchema,
  /** Every attempt after the first on a failing sector. */
  retries: z.number().int().nonnegative(),
  /** Merged runs of unreadable sectors (at most 10,000 runs; `readErrorsTruncated` says when more). */
  readErrors: z.array(readErrorSchema).max(10_000),
  readErrorsTruncated: z.boolean().optional(),
  readErrorBytes: z.number().int().nonnegative(),
  /** `--verify-source`: a second read of the source, and whether it gave the same sha256. */
  verification: z
    .strictObject({ sha256: sha256HexSchema, matched: z.boolean(), endedAt: isoTimestampSchema })
    .optional(),
  /**
   * How the image is stored when it is not stored raw: the item's id and digests are those of the raw
   * image (what `get` returns); `sha256` and `size` here are those of the stored bytes.
   */
  storedAs: z
    .strictObject({
      encoding: z.literal("zstd"),
      sha256: sha256HexSchema,
      size: z.number().int().nonnegative(),
    })
    .optional(),
});

export type DiskImage = z.infer<typeof diskImageSchema>;
export type ImageSource = z.infer<typeof imageSourceSchema>;
export type ReadError = z.infer<typeof readErrorSchema>;
