import { displayWidth, mostFrequent, splitAtColumn } from "./ledger.js";

/**
 * One non-blank line of a "label: value" listing (systeminfo, ipconfig). Such listings align every value
 * at one column, whatever the language: the column is found from the lines themselves, a line is split
 * there (so a label may hold a colon, "Virtual Memory: Max Size:", and a value may too), and a line that
 * starts at that column continues the value above it.
 */
export type LabelledLine = { index: number; blankAfter: boolean } & (
  | { kind: "heading"; text: string }
  | { kind: "pair"; key: string; value: string; text: string }
  | { kind: "continuation"; text: string }
  | { kind: "other"; text: string }
);

export interface LabelledOptions {
  /** ipconfig: labels are indented and unindented lines are section headings; systeminfo: the reverse. */
  indented: boolean;
}

export function* labelledLines(lines: readonly string[], options: LabelledOptions): Generator<LabelledLine> {
  const column = valueColumn(lines, options);
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const blankAfter = (lines[index + 1] ?? "").trim() === "";
    const indent = displayWidth(/^\s*/.exec(line)?.[0] ?? "");
    const base = { index, blankAfter, text: line.trim() };
    if (options.indented && indent === 0) yield { ...base, kind: "heading" };
    else if (column !== undefined && indent >= column) yield { ...base, kind: "continuation" };
    else if (!options.indented && indent > 0) yield { ...base, kind: "other" };
    else yield { ...base, ...splitLabel(line, column, options) };
  }
}

function splitLabel(
  line: string,
  column: number | undefined,
  options: LabelledOptions,
): { kind: "pair"; key: string; value: string } | { kind: "other" } {
  const clean = (label: string): string => {
    const key = label.trim().replace(/\s*:$/, "");
    return options.indented ? key.replace(/(?:\s*\.)+$/, "").trim() : key;
  };
  if (column !== undefined) {
    const [before, after] = splitAtColumn(line, column);
    if (/:\s*$/.test(before)) return { kind: "pair", key: clean(before), value: after.trim() };
  }
  // A label longer than the column, its values on the lines below (or an empty value trimmed away).
  if (/:$/.test(line.trimEnd())) return { kind: "pair", key: clean(line), value: "" };
  return { kind: "other" };
}

/** The display column most label lines put their value at: right after a ":" and its spaces. */
function valueColumn(lines: readonly string[], options: LabelledOptions): number | undefined {
  const candidates: number[] = [];
  for (const line of lines) {
    const indented = /^\s/.test(line);
    if (line.trim() === "" || indented !== options.indented) continue;
    for (const match of line.matchAll(/:( +)(?=\S)/g)) {
      candidates.push(displayWidth(line.slice(0, match.index + 1 + (match[1]?.length ?? 0))));
    }
  }
  return mostFrequent(candidates);
}
