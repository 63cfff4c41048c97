/** A line of command output a parser could not make sense of: kept, with its 1-based line number. */
export interface UnparsedLine {
  line: number;
  text: string;
}

/** What a Windows output parser returns: its rows, and every line it did not use, never dropped. */
export interface Parsed<T> {
  rows: T[];
  unparsed: UnparsedLine[];
  /** Non-blank lines the parser used or recognised as the output's own structure (titles, rules). */
  consumed: number;
}

/** Lines of console output: CRLF, LF, a lone CR, and the CR CR LF some Windows tools write, each end one line. */
export function lines(text: string): string[] {
  return text.replace(/^\uFEFF/, "").split(/\r*\n|\r/);
}

/**
 * Keeps account of the lines of one output: a parser marks each line it uses or recognises; whatever
 * non-blank line is left unmarked at the end is reported as unparsed, so no line is lost silently.
 */
export class LineLedger {
  readonly lines: string[];
  readonly #marked = new Set<number>();

  constructor(text: string) {
    this.lines = lines(text);
  }

  /** Marks line `index` (0-based) as used or recognised. */
  take(index: number): void {
    this.#marked.add(index);
  }

  result<T>(rows: T[]): Parsed<T> {
    const unparsed: UnparsedLine[] = [];
    let consumed = 0;
    for (const [index, text] of this.lines.entries()) {
      if (text.trim() === "") continue;
      if (this.#marked.has(index)) consumed++;
      else unparsed.push({ line: index + 1, text });
    }
    return { rows, unparsed, consumed };
  }
}

/** Counts display cells: East Asian wide characters take two, as the console aligns them. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += isWide(char.codePointAt(0) ?? 0) ? 2 : 1;
  return width;
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

/** Splits `text` at display column `column`: [before, after] (a wide character is never cut). */
export function splitAtColumn(text: string, column: number): [string, string] {
  let width = 0;
  let index = 0;
  for (const char of text) {
    if (width >= column) break;
    width += isWide(char.codePointAt(0) ?? 0) ? 2 : 1;
    index += char.length;
  }
  return [text.slice(0, index), text.slice(index)];
}

/** The most frequent value (ties: the smallest); undefined for none. */
export function mostFrequent(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  let bestCount = 0;
  for (const [v, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== undefined && v < best)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}
