import { parseCsv } from "../csv.js";
import { LineLedger, type Parsed } from "./ledger.js";

export interface HeaderedCsvOptions {
  /**
   * "rfc4180" (PowerShell's ConvertTo-Csv: inner quotes doubled) or "unescaped" (schtasks and tasklist:
   * every field quoted, inner quotes written as they are, so only `","` separates fields).
   */
  quoting?: "rfc4180" | "unescaped";
  /**
   * The column a free-text value sits in (schtasks' "Task To Run" is the 9th, 8 here; -1 the last): when
   * an unescaped line has more separators than the header, the surplus is inside that column's value.
   * Without it such a line is left unparsed.
   */
  freeColumn?: number;
}

/** schtasks /query /fo csv /v: the position of "Task To Run", the same in every language. */
export const SCHTASKS_TASK_TO_RUN = 8;

type Row = Record<string, string>;

/**
 * CSV with a header row, as schtasks /fo csv, tasklist /fo csv and PowerShell's ConvertTo-Csv write it.
 * Header names are trimmed (localized tasklist pads them); values are kept byte for byte. schtasks
 * repeats the header per task folder: repeats are recognised. A "#TYPE" line is skipped. A line whose
 * fields do not match the header is returned as unparsed.
 */
export function parseHeaderedCsv(text: string, options: HeaderedCsvOptions = {}): Parsed<Row> {
  const ledger = new LineLedger(text);
  const records = options.quoting === "unescaped" ? unescapedRecords(ledger.lines) : rfcRecords(ledger.lines);
  const rows: Row[] = [];
  let header: { raw: string; names: string[] } | undefined;
  for (const record of records) {
    if (record.fields.length === 1 && (record.fields[0] ?? "").startsWith("#TYPE") && header === undefined) {
      ledger.take(record.lines[0] ?? 0);
      continue;
    }
    const fields = header === undefined ? record.fields : fit(record.fields, header.names.length, options);
    if (fields === undefined) continue;
    if (header === undefined) header = { raw: record.raw, names: fields.map((f) => f.trim()) };
    else if (record.raw !== header.raw)
      rows.push(Object.fromEntries(header.names.map((h, i) => [h, fields[i] ?? ""])));
    for (const line of record.lines) ledger.take(line);
  }
  return ledger.result(rows);
}

function fit(fields: string[], width: number, options: HeaderedCsvOptions): string[] | undefined {
  if (fields.length === width) return fields;
  if (fields.length < width || options.quoting !== "unescaped" || options.freeColumn === undefined)
    return undefined;
  const surplus = fields.length - width;
  const at = options.freeColumn < 0 ? width + options.freeColumn : options.freeColumn;
  const merged = fields.slice(at, at + surplus + 1).join('","');
  return [...fields.slice(0, at), merged, ...fields.slice(at + surplus + 1)];
}

interface CsvRecord {
  fields: string[];
  raw: string;
  lines: number[];
}

/** One record per line: `"a","b "c" d","e"` → a | b "c" d | e. Lines not quoted at both ends are left. */
function unescapedRecords(all: readonly string[]): CsvRecord[] {
  const records: CsvRecord[] = [];
  for (const [index, line] of all.entries()) {
    if (line.length < 2 || !line.startsWith('"') || !line.endsWith('"')) continue;
    records.push({ fields: line.slice(1, -1).split('","'), raw: line, lines: [index] });
  }
  return records;
}

/** RFC 4180 records, which may span lines inside quotes; each keeps the lines it came from. */
function rfcRecords(all: readonly string[]): CsvRecord[] {
  const records: CsvRecord[] = [];
  let pending: { parts: string[]; lines: number[]; quotes: number } | undefined;
  for (const [index, line] of all.entries()) {
    if (pending === undefined && line === "") continue;
    pending ??= { parts: [], lines: [], quotes: 0 };
    pending.parts.push(line);
    pending.lines.push(index);
    pending.quotes += line.split('"').length - 1;
    // An odd number of quotes so far: the record goes on, inside a quoted field.
    if (pending.quotes % 2 === 1 && index < all.length - 1) continue;
    const raw = pending.parts.join("\n");
    records.push({ fields: parseCsv(`${raw}\n`)[0] ?? [], raw, lines: pending.lines });
    pending = undefined;
  }
  return records;
}

/** PowerShell's default table view: column bounds from the dashed underline row. */
export function parsePowerShellTable(text: string): Parsed<Row> {
  const ledger = new LineLedger(text);
  const all = ledger.lines;
  const dashIndex = all.findIndex((l) => /^-+(\s+-+)*\s*$/.test(l) && l.trim() !== "");
  if (dashIndex < 1) return ledger.result([]);
  const header = all[dashIndex - 1] ?? "";
  const dashes = all[dashIndex] ?? "";
  ledger.take(dashIndex - 1);
  ledger.take(dashIndex);
  const bounds: [number, number | undefined][] = [...dashes.matchAll(/-+/g)].map((m, i, list) => [
    m.index,
    list[i + 1]?.index,
  ]);
  const names = bounds.map(([start, end]) => header.slice(start, end).trim());
  const rows: Row[] = [];
  for (let i = dashIndex + 1; i < all.length; i++) {
    const line = all[i] ?? "";
    if (line.trim() === "") continue;
    ledger.take(i);
    rows.push(
      Object.fromEntries(names.map((n, c) => [n, line.slice(bounds[c]?.[0], bounds[c]?.[1]).trim()])),
    );
  }
  return ledger.result(rows);
}
