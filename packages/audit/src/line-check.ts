/**
 * The check of one stored line and of its link to the line before, with no dependency beyond
 * node:crypto: the verifier's worker threads load this module alone (not zod, not the core package),
 * and the sequential scanner runs the very same functions, so both find the same problems.
 */
import { hash } from "node:crypto";
import type { AuditRecord } from "./record.js";
import { MAX_DETAILS_BYTES, MAX_NAME, MAX_REASON, recordShapeProblem } from "./shape.js";

function sha256Hex(text: string): string {
  return hash("sha256", text, "hex");
}

export type RecordProblem = { kind: "malformed" | "non-canonical" | "modified"; message: string };

const HASH_KEY = ',"hash":"';
const SEAL_KEY = ',"seal":"';
/** `,"hash":"` + 64 hex digits + `"` (and the same for the seal): the parts of a stored line not hashed. */
const HASH_FIELD_LENGTH = HASH_KEY.length + 65;
const SEAL_FIELD_LENGTH = SEAL_KEY.length + 65;
/** No valid record is longer (bounded fields); a longer line is refused before parsing. */
export const MAX_LINE = 4 * MAX_NAME * 6 + MAX_REASON * 6 + MAX_DETAILS_BYTES + 1024;

/**
 * Parses one stored line and checks it is self-consistent: a valid record whose hash is the sha256 of
 * the line's own bytes without its hash and seal fields. The writer only stores canonical lines, so a line whose
 * bytes hash right is the canonical form that was written, without re-serializing it; a re-hashed edit
 * is caught by the chain and the signed checkpoints. Chain links are checked by the caller.
 */
export function parseRecordLine(line: string): AuditRecord | { problem: RecordProblem } {
  if (line.length > MAX_LINE) return { problem: { kind: "malformed", message: "the line is too long" } };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { problem: { kind: "malformed", message: "the line is not JSON" } };
  }
  const shape = recordShapeProblem(value, true);
  if (shape !== undefined)
    return { problem: { kind: "malformed", message: `not an audit record: ${shape}` } };
  const record = value as AuditRecord;
  const hashed = hashedText(line, record);
  if (hashed === undefined) {
    return { problem: { kind: "non-canonical", message: "the record is not stored in its canonical form" } };
  }
  if (sha256Hex(hashed) !== record.hash) {
    return { problem: { kind: "modified", message: "the record's content does not match its hash" } };
  }
  // A record never has a "problem" field (the shape check allows only its own), so callers can tell.
  return record;
}

/** The line without its hash and seal fields, or undefined when they are not where the canonical form puts them. */
function hashedText(line: string, record: AuditRecord): string | undefined {
  const at = line.lastIndexOf(HASH_KEY);
  if (at < 0 || line.slice(at + HASH_KEY.length, at + HASH_FIELD_LENGTH - 1) !== record.hash)
    return undefined;
  const end = at + HASH_FIELD_LENGTH;
  if (record.seal === undefined) return line.slice(0, at) + line.slice(end);
  // Between the hash and the seal come only string fields, so the first match is the top-level field.
  const seal = line.indexOf(SEAL_KEY, end);
  if (seal < 0 || line.slice(seal + SEAL_KEY.length, seal + SEAL_FIELD_LENGTH - 1) !== record.seal) {
    return undefined;
  }
  return line.slice(0, at) + line.slice(end, seal) + line.slice(seal + SEAL_FIELD_LENGTH);
}

export type LinkProblem = {
  kind: "inserted" | "duplicated" | "out-of-order" | "missing";
  message: string;
};

/** Why `record` cannot follow a record whose hash is `lastHash` when `expected` records came before it. */
export function linkProblem(
  record: AuditRecord,
  expected: number,
  lastHash: string,
): LinkProblem | undefined {
  if (record.seq === expected) {
    if (record.prev === lastHash) return undefined;
    return { kind: "inserted", message: `record ${record.seq} does not link to the record before it` };
  }
  if (record.seq === expected - 1 && record.hash === lastHash) {
    return { kind: "duplicated", message: `record ${record.seq} appears twice` };
  }
  if (record.seq < expected) {
    return { kind: "out-of-order", message: `record ${record.seq} found where ${expected} was expected` };
  }
  return {
    kind: "missing",
    message: `records ${expected}..${record.seq - 1} are missing before ${record.seq}`,
  };
}
