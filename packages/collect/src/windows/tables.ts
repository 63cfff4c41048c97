import { parseCsv } from "../csv.js";
import { lines } from "./network.js";

/**
 * CSV with a header row, as schtasks /fo csv, tasklist /fo csv and PowerShell's ConvertTo-Csv write it.
 * schtasks repeats the header per task folder: repeats are dropped. A "#TYPE" line is skipped.
 */
export function parseHeaderedCsv(text: string): Record<string, string>[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, "")).filter(
    (r) => !(r.length === 1 && (r[0] ?? "").startsWith("#TYPE")),
  );
  const header = rows[0];
  if (header === undefined) return [];
  const key = header.join("\u0000");
  return rows
    .slice(1)
    .filter((r) => r.join("\u0000") !== key)
    .map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
}

/** PowerShell's default table view: column bounds from the dashed underline row. */
export function parsePowerShellTable(text: string): Record<string, string>[] {
  const all = lines(text);
  const dashIndex = all.findIndex((l) => /^-+(\s+-+)*\s*$/.test(l) && l.trim() !== "");
  if (dashIndex < 1) return [];
  const header = all[dashIndex - 1] ?? "";
  const dashes = all[dashIndex] ?? "";
  const bounds: [number, number][] = [];
  for (const match of dashes.matchAll(/-+/g)) bounds.push([match.index, match.index + match[0].length]);
  const names = bounds.map(([start, end], i) =>
    header.slice(start, i === bounds.length - 1 ? undefined : (bounds[i + 1]?.[0] ?? end)).trim(),
  );
  return all
    .slice(dashIndex + 1)
    .filter((l) => l.trim() !== "")
    .map((l) =>
      Object.fromEntries(
        names.map((n, i) => {
          const start = bounds[i]?.[0] ?? 0;
          const end = i === bounds.length - 1 ? undefined : bounds[i + 1]?.[0];
          return [n, l.slice(start, end).trim()];
        }),
      ),
    );
}
