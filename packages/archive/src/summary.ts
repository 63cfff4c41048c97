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
});

export type CollectionSummaryRow = z.infer<typeof collectionSummaryRowSchema>;

export const SUMMARY_COLUMNS = [
  "Data point",
  "Source",
  "Status",
  "Error code",
  "Started",
  "Duration ms",
  "Files",
  "Bytes",
] as const;

/** RFC 4180 CSV with a header row and CRLF line ends, as spreadsheet tools expect. */
export function formatCollectionSummary(rows: readonly CollectionSummaryRow[]): string {
  const lines = [SUMMARY_COLUMNS.map(csvField).join(",")];
  for (const row of rows) {
    const values = [row.dataPoint, row.source, row.status, row.errorCode ?? "", row.startedAt];
    values.push(String(row.durationMs), String(row.files), String(row.bytes));
    lines.push(values.map(csvField).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

function csvField(value: string): string {
  // A leading = + - @ makes spreadsheets evaluate the cell; a quote prefix keeps it text.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
