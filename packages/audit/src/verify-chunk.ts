/**
 * One chunk of a log checked on its own, as a worker thread of the parallel verifier does it: every
 * line parsed and hashed, the links inside the chunk checked, and the chunk's Merkle leaves folded into
 * the subtrees the main thread joins. Loads nothing but node:crypto and its own small modules.
 */
import { isAscii } from "node:buffer";
import { hash } from "node:crypto";
import { byteRecord, scanRecordBytes } from "./line-bytes.js";
import { type LinkProblem, linkProblem, parseRecordLine, type RecordProblem } from "./line-check.js";
import { decode } from "./lines.js";
import type { AuditRecord } from "./record.js";
import { hasValidSeal, type SealKey } from "./seal-mac.js";

export interface ChunkSettings {
  /** Tree sizes at which a checkpoint is checked: the main thread needs the root at each. */
  cuts: readonly number[];
  /** With a seal key: seals are counted on records from this seq on. */
  seal?: { key: SealKey; from: number };
}

export interface ChunkResult {
  /** Records accepted before the first problem (all of them when there is none). */
  accepted: number;
  /** The first record, when it parsed: the main thread checks its link to the previous chunk. */
  first?: { seq: number; prev: string; hash: string };
  /** The hash of the last accepted record. */
  lastHash?: string;
  /**
   * The accepted records' Merkle leaves as perfect subtrees aligned on their positions (assuming the
   * first record is where its seq says), split at every cut: sizes, 32-byte roots, valid seals in each.
   */
  sizes: number[];
  roots: Uint8Array;
  sealed: number[];
  /** The first problem, at line `index` of the chunk (0-based). */
  problem?: {
    index: number;
    code: "ERR_AUDIT_RECORD_INVALID" | "ERR_AUDIT_CHAIN_BROKEN";
    kind: (RecordProblem | LinkProblem)["kind"];
    message: string;
  };
}

/**
 * Digests come back as 32-character latin1 strings and are written into place: a digest returned as a
 * Buffer costs ~1 us more per call (the Buffer's allocation), and there are two per record.
 */
const leafInput = Buffer.alloc(33);
const nodeInput = Buffer.alloc(65);
nodeInput[0] = 0x01;
const NEWLINE = 0x0a;

/** The last accepted record's hash in hex, and the byte-level scan's reused output. */
const lastHex = Buffer.alloc(64);
const scan = byteRecord();

/** Checks every line of `bytes` (whole lines, without the last newline). */
export function checkChunk(bytes: Buffer, settings: ChunkSettings): ChunkResult {
  const { lines, invalidUtf8 } = chunkLines(bytes);
  const leaves = Buffer.allocUnsafe(lines.length * 32);
  const seals = settings.seal === undefined ? undefined : new Uint8Array(lines.length);
  let first: ChunkResult["first"];
  let problem: ChunkResult["problem"];
  let accepted = 0;
  for (let i = 0; i < lines.length; i += 1) {
    // The loop stops at the first problem, so only the first line that is not UTF-8 can be reached.
    if (invalidUtf8[0] === i) {
      problem = { index: i, code: "ERR_AUDIT_RECORD_INVALID", kind: "malformed", message: "not UTF-8" };
      break;
    }
    if (first !== undefined && plainRecord(bytes, lines, i, first.seq + i, settings)) {
      bytes.copy(lastHex, 0, scan.hashAt, scan.hashAt + 64);
      leaves.write(hash("sha256", scan.digest, "binary"), i * 32, 32, "latin1");
      accepted += 1;
      continue;
    }
    const parsed = parseRecordLine(lines.line(i));
    if ("problem" in parsed) {
      const code = parsed.problem.kind === "modified" ? "ERR_AUDIT_CHAIN_BROKEN" : "ERR_AUDIT_RECORD_INVALID";
      problem = { index: i, code, ...parsed.problem };
      break;
    }
    if (first === undefined) {
      first = { seq: parsed.seq, prev: parsed.prev, hash: parsed.hash };
    } else {
      // The same rule as the sequential scanner, relative to the first record (the main thread checks that one).
      const link = linkProblem(parsed, first.seq + i, lastHex.toString("latin1"));
      if (link !== undefined) {
        problem = { index: i, code: "ERR_AUDIT_CHAIN_BROKEN", ...link };
        break;
      }
    }
    leafInput.write(parsed.hash, 1, 32, "hex");
    leaves.write(hash("sha256", leafInput, "binary"), i * 32, 32, "latin1");
    if (seals !== undefined && settings.seal !== undefined && parsed.seq >= settings.seal.from) {
      seals[i] = hasValidSeal(settings.seal.key, parsed as AuditRecord) ? 1 : 0;
    }
    lastHex.write(parsed.hash, "latin1");
    accepted += 1;
  }
  const blocks =
    first === undefined ? undefined : subtrees(leaves, first.seq, accepted, settings.cuts, seals);
  return {
    accepted,
    ...(first === undefined ? {} : { first }),
    ...(accepted === 0 ? {} : { lastHash: lastHex.toString("latin1") }),
    sizes: blocks?.sizes ?? [],
    roots: blocks?.roots ?? new Uint8Array(0),
    sealed: blocks?.sealed ?? [],
    ...(problem === undefined ? {} : { problem }),
  };
}

/**
 * Whether line `i` is a record the bytes alone accept (`scanRecordBytes`) that follows the last one:
 * the expected seq, `prev` the last record's hash, and no seal to check. Anything else goes through
 * `parseRecordLine` and `linkProblem`, which give the verdict and its message.
 */
function plainRecord(bytes: Buffer, lines: Lines, i: number, seq: number, settings: ChunkSettings): boolean {
  if (lines.starts === undefined) return false;
  const start = lines.starts[i] as number;
  if (!scanRecordBytes(bytes, start, (lines.starts[i + 1] as number) - 1, scan)) return false;
  if (scan.seq !== seq || (settings.seal !== undefined && seq >= settings.seal.from)) return false;
  for (let k = 0; k < 64; k += 1) if (bytes[scan.prevAt + k] !== lastHex[k]) return false;
  return true;
}

interface Lines {
  readonly length: number;
  line(index: number): string;
  /** For an ASCII chunk, where each line starts (and one past the last line's end + 1). */
  readonly starts?: readonly number[];
}

/**
 * The chunk's lines. An ASCII chunk (every log the vault writes, unless a field holds other
 * characters) is decoded line by line as it is checked: one string the size of the chunk is a
 * large-object allocation whose page faults and collection cost a worker ~10% of its time.
 */
function chunkLines(bytes: Buffer): { lines: Lines; invalidUtf8: number[] } {
  if (!isAscii(bytes)) {
    const event = decode(bytes);
    if (event.kind !== "lines") throw new Error("a chunk decodes to lines");
    const decoded = event.lines;
    return {
      lines: { length: decoded.length, line: (i) => decoded[i] as string },
      invalidUtf8: event.invalidUtf8,
    };
  }
  const starts = [0];
  for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) starts.push(at + 1);
  starts.push(bytes.length + 1);
  const line = (i: number): string =>
    bytes.toString("latin1", starts[i] as number, (starts[i + 1] as number) - 1);
  return { lines: { length: starts.length - 1, line, starts }, invalidUtf8: [] };
}

/**
 * Splits leaves [start, start + count) into the largest perfect subtrees aligned on their position
 * (what an RFC 9162 accumulator holds), never crossing a cut, and hashes each subtree's root in place.
 */
function subtrees(
  leaves: Buffer,
  start: number,
  count: number,
  cuts: readonly number[],
  seals: Uint8Array | undefined,
): { sizes: number[]; roots: Uint8Array; sealed: number[] } {
  const sizes: number[] = [];
  const sealed: number[] = [];
  const end = start + count;
  const stops = cuts.filter((cut) => cut > start && cut < end);
  stops.push(end);
  let at = start;
  for (const stop of stops) {
    while (at < stop) {
      let size = 1;
      while (at % (size * 2) === 0 && at + size * 2 <= stop) size *= 2;
      sizes.push(size);
      let valid = 0;
      if (seals !== undefined)
        for (let i = at - start; i < at - start + size; i += 1) valid += seals[i] as number;
      sealed.push(valid);
      at += size;
    }
  }
  const roots = new Uint8Array(sizes.length * 32);
  let offset = 0;
  for (let b = 0; b < sizes.length; b += 1) {
    const size = sizes[b] as number;
    foldInPlace(leaves, offset, size);
    roots.set(leaves.subarray(offset * 32, offset * 32 + 32), b * 32);
    offset += size;
  }
  return { sizes, roots, sealed };
}

/** The root of the perfect subtree over `size` leaves at `offset`, left in the first leaf's place. */
function foldInPlace(leaves: Buffer, offset: number, size: number): void {
  for (let width = size; width > 1; width /= 2) {
    for (let i = 0; i < width / 2; i += 1) {
      const left = (offset + 2 * i) * 32;
      leaves.copy(nodeInput, 1, left, left + 64);
      leaves.write(hash("sha256", nodeInput, "binary"), (offset + i) * 32, 32, "latin1");
    }
  }
}
