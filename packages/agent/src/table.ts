const MAX_CELL = 60;
// Device output is untrusted: a control character could move the analyst's cursor or recolour the terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

function cell(value: unknown, maxWidth: number): string {
  let text: string;
  if (value === undefined || value === null) text = "";
  else if (typeof value === "string") text = value;
  else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    text = String(value);
  else text = JSON.stringify(value) ?? "";
  text = text.replace(CONTROL, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
  return text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text;
}

/** Renders rows as an aligned text table of `columns` (cells escaped and cut at `maxWidth`). */
export function renderTable(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
  maxWidth = MAX_CELL,
): string {
  const cells = rows.map((row) =>
    columns.map((column) => cell(Object.hasOwn(row, column) ? row[column] : undefined, maxWidth)),
  );
  const header = columns.map((column) => cell(column, maxWidth));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
