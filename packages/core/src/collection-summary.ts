/** The fields of one CollectionSummary.csv row (the archive's `CollectionSummaryRow` validates them). */
export interface CollectionSummaryFields {
  dataPoint: string;
  source: string;
  status: string;
  errorCode?: string;
  startedAt: string;
  durationMs: number;
  files: number;
  bytes: number;
  /** Appended columns (Windows command output): code page per tool, label table used, unparsed lines. */
  codePage?: string;
  parserLanguage?: string;
  unparsedLines?: number;
}

export const SUMMARY_COLUMNS = [
  "Data point",
  "Source",
  "Status",
  "Error code",
  "Started",
  "Duration ms",
  "Files",
  "Bytes",
  "Code page",
  "Parser language",
  "Unparsed lines",
] as const;

/**
 * CollectionSummary.csv, the one writer of it (the package's tag file and the collector's own log): RFC 4180
 * with a header row and CRLF line ends, as spreadsheet tools expect.
 */
export function formatCollectionSummary(rows: readonly CollectionSummaryFields[]): string {
  const lines = [SUMMARY_COLUMNS.map(csvField).join(",")];
  for (const row of rows) {
    const values = [row.dataPoint, row.source, row.status, row.errorCode ?? "", row.startedAt];
    values.push(String(row.durationMs), String(row.files), String(row.bytes));
    values.push(row.codePage ?? "", row.parserLanguage ?? "", row.unparsedLines?.toString() ?? "");
    lines.push(values.map(csvField).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

function csvField(value: string): string {
  // A leading = + - @ makes spreadsheets evaluate the cell; a quote prefix keeps it text.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
