import { Readable } from "node:stream";

export type CsvValue = string | number | boolean | bigint | Date | null | undefined;

// Spreadsheets run cells that start with these as formulas (CSV injection, OWASP); a leading quote
// makes them text. Tab and CR start formulas in some spreadsheet apps too.
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One RFC 4180 field: quoted when it holds a quote, comma or line break; formula starts defused. */
export function csvCell(value: CsvValue): string {
  let text = cellText(value);
  if (FORMULA_START.test(text) && !isPlainNumber(value, text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function cellText(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "" : value.toISOString();
  return String(value);
}

// A negative number the collector itself produced is data, not a formula.
function isPlainNumber(value: CsvValue, text: string): boolean {
  return (typeof value === "number" || typeof value === "bigint") && /^-\d/.test(text);
}

/** One CSV record with the RFC 4180 CRLF terminator. */
export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(",")}\r\n`;
}

/** A whole table as a string; for small tables. */
export function toCsv<T>(columns: readonly (keyof T & string)[], rows: Iterable<T>): string {
  let out = csvLine(columns);
  for (const row of rows) out += csvLine(columns.map((c) => row[c] as CsvValue));
  return out;
}

/** A table as a stream, so long listings never sit in memory whole. */
export function csvStream<T>(
  columns: readonly (keyof T & string)[],
  rows: AsyncIterable<T> | Iterable<T>,
): Readable {
  async function* lines(): AsyncGenerator<string> {
    yield csvLine(columns);
    let batch = "";
    for await (const row of rows) {
      batch += csvLine(columns.map((c) => row[c] as CsvValue));
      if (batch.length >= 64 * 1024) {
        yield batch;
        batch = "";
      }
    }
    if (batch.length > 0) yield batch;
  }
  return Readable.from(lines(), { objectMode: false });
}

/** Parses RFC 4180 text (quoted fields, doubled quotes, CRLF or LF); used by the Windows parsers. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field.length > 0 || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Records whose columns are the union of their keys, in first-seen order (parsed command output). */
export function recordsToCsv(rows: readonly Record<string, CsvValue>[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  let out = csvLine(columns);
  for (const row of rows) out += csvLine(columns.map((c) => row[c]));
  return out;
}
