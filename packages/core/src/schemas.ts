import { z } from "zod";
import { unsafePathReason } from "./safe-path.js";

/** Lower-case hex digests, exactly as long as the algorithm's output. */
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits");
export const sha1HexSchema = z.string().regex(/^[0-9a-f]{40}$/, "expected 40 lower-case hex digits");
export const md5HexSchema = z.string().regex(/^[0-9a-f]{32}$/, "expected 32 lower-case hex digits");
export const sha512HexSchema = z.string().regex(/^[0-9a-f]{128}$/, "expected 128 lower-case hex digits");

/** The digests custody knows; sha256 is always present where a digest set is required. */
export const digestSetSchema = z.strictObject({
  sha256: sha256HexSchema,
  sha1: sha1HexSchema.optional(),
  md5: md5HexSchema.optional(),
  sha512: sha512HexSchema.optional(),
});

/** An RFC 3339 UTC timestamp as `Date.toISOString()` writes it. */
export const isoTimestampSchema = z.iso.datetime({ offset: false, precision: 3 });

/** A byte count that JSON carries exactly. */
export const byteSizeSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A relative path with '/' separators and no way out of its root. */
export const safeRelativePathSchema = z.string().superRefine((path, ctx) => {
  const reason = unsafePathReason(path);
  if (reason !== undefined) ctx.addIssue({ code: "custom", message: `unsafe path: ${reason}` });
});
