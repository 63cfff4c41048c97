import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";

/** One row of CollectionSummary.csv: what happened to one data point of a collection. */
export const collectionSummaryRowSchema = z.object({
  dataPoint: z.string().min(1),
  source: z.string(),
  status: z.enum(["ok", "partial", "failed", "not-present", "skipped"]),
  errorCode: z.string().optional(),
  startedAt: isoTimestampSchema,
  durationMs: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  codePage: z.string().optional(),
  parserLanguage: z.string().optional(),
  unparsedLines: z.number().int().nonnegative().optional(),
});

export type CollectionSummaryRow = z.infer<typeof collectionSummaryRowSchema>;

// One writer of CollectionSummary.csv for the whole repository: core's (the collector's log uses it too).
export { formatCollectionSummary, SUMMARY_COLUMNS } from "@custody/core";
