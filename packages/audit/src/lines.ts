import { isAscii, isUtf8 } from "node:buffer";

/** Whole lines, decoded; `invalidUtf8` lists the indexes (in `lines`) whose bytes were not UTF-8. */
export type LineEvent =
  | { kind: "lines"; lines: string[]; invalidUtf8: number[] }
  /** Bytes after the last newline: a torn write, or a cut log. */
  | { kind: "torn"; bytes: Buffer }
  /** A line longer than any record can be: reading stops here instead of buffering it. */
  | { kind: "too-long"; bytes: number };

/** No record is this long (fields are bounded); a longer line is hostile or garbage. */
export const MAX_LINE_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines without holding more than one chunk and one partial line, in batches
 * (one per chunk) because a per-line async step would cost more than checking the line.
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<LineEvent> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const data = carry.length === 0 ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
    const last = data.lastIndexOf(NEWLINE);
    if (last < 0) {
      carry = data;
      if (carry.length > MAX_LINE_BYTES) {
        yield { kind: "too-long", bytes: carry.length };
        return;
      }
      continue;
    }
    yield decode(data.subarray(0, last));
    carry = Buffer.from(data.subarray(last + 1));
  }
  if (carry.length > 0) yield { kind: "torn", bytes: carry };
}

export function decode(region: Buffer): LineEvent {
  // Most logs are ASCII, for which latin1 decoding gives the same string several times faster.
  if (isAscii(region))
    return { kind: "lines", lines: region.toString("latin1").split("\n"), invalidUtf8: [] };
  const lines = region.toString("utf8").split("\n");
  const invalidUtf8: number[] = [];
  // One check of the whole region is nearly free; only a bad region is searched line by line.
  if (!isUtf8(region)) {
    let start = 0;
    for (let i = 0; i < lines.length; i += 1) {
      const end = region.indexOf(NEWLINE, start);
      const stop = end < 0 ? region.length : end;
      if (!isUtf8(region.subarray(start, stop))) invalidUtf8.push(i);
      start = stop + 1;
    }
  }
  return { kind: "lines", lines, invalidUtf8 };
}
