import { hash } from "node:crypto";
import {
  CustodyError,
  canonicalJson,
  isoTimestampSchema,
  type JsonValue,
  sha256HexSchema,
} from "@custody/core";
import { merkleLeafHash } from "@custody/hash";
import { z } from "zod";
import { recordSeal, type SealKey } from "./seal.js";
import { MAX_NAME, MAX_REASON, recordShapeProblem } from "./shape.js";

/** The `prev` of the first record: there is nothing before it. */
export const GENESIS_PREV = "0".repeat(64);

/** Bounds one record so a hostile caller cannot make a line that no reader will hold. */
export const MAX_DETAILS_BYTES = 64 * 1024;

export type AuditOutcome = "allow" | "deny" | "error";
export type JsonObject = { [key: string]: JsonValue };

export interface AuditEvent {
  actor: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  reason: string;
  details?: JsonObject;
}

export interface AuditRecord {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  reason: string;
  details: JsonObject;
  prev: string;
  hash: string;
  /**
   * HMAC-SHA256 under the vault's seal key of the record's 32 hash bytes (hex), written by a log opened
   * with a seal key. Outside the hash: it proves which process wrote the record, not what it says.
   */
  seal?: string;
}

const wellFormed = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => s.isWellFormed(), "a string with a lone surrogate");

/** Canonical text of details objects that passed validation, so sealing does not compute it twice. */
const canonicalDetails = new WeakMap<object, string>();

// A plain JSON object with a canonical form of bounded size; canonicalJson refuses everything else
// (class instances, cycles, NaN, lone surrogates), so one pass both validates and serializes.
const detailsSchema = z.custom<JsonObject>(
  (value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    try {
      const text = canonicalJson(value);
      if (Buffer.byteLength(text) > MAX_DETAILS_BYTES) return false;
      canonicalDetails.set(value, text);
      return true;
    } catch {
      return false;
    }
  },
  { message: `details must be a JSON object of at most ${MAX_DETAILS_BYTES} canonical bytes` },
);

export const auditOutcomeSchema = z.enum(["allow", "deny", "error"]);

/** What a caller hands to `append`: who did what to which target, whether it was allowed and why. */
export const auditEventSchema = z.strictObject({
  actor: wellFormed(MAX_NAME).min(1),
  action: wellFormed(MAX_NAME).min(1),
  target: wellFormed(MAX_NAME).min(1),
  outcome: auditOutcomeSchema,
  reason: wellFormed(MAX_REASON),
  details: detailsSchema.optional(),
});

/** One line of the log, exactly as stored. */
export const auditRecordSchema = z.strictObject({
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  time: isoTimestampSchema,
  actor: wellFormed(MAX_NAME).min(1),
  action: wellFormed(MAX_NAME).min(1),
  target: wellFormed(MAX_NAME).min(1),
  outcome: auditOutcomeSchema,
  reason: wellFormed(MAX_REASON),
  details: detailsSchema,
  prev: sha256HexSchema,
  hash: sha256HexSchema,
  seal: sha256HexSchema.optional(),
});

/** A record before its hash (and seal) are computed. */
export type RecordBody = Omit<AuditRecord, "hash" | "seal">;

interface RecordText {
  /** canonical(record without hash and seal): what `hash` is the sha256 of. */
  hashed: string;
  /** canonical(record): the stored line, without its newline. */
  line: string;
}

interface RecordParts {
  head: string;
  middle: string;
  tail: string;
}

/**
 * RFC 8785 text of a record built field by field (keys already in code-unit order), because this runs
 * once per record on every write; a property test pins it to `canonicalJson`. The hash goes between
 * head and middle, the seal ("seal" sorts between "reason" and "seq") between middle and tail.
 */
function recordParts(record: RecordBody, detailsText: string): RecordParts {
  return {
    head: `{"action":${JSON.stringify(record.action)},"actor":${JSON.stringify(record.actor)},"details":${detailsText}`,
    middle: `"outcome":${JSON.stringify(record.outcome)},"prev":"${record.prev}","reason":${JSON.stringify(record.reason)}`,
    tail: `"seq":${record.seq},"target":${JSON.stringify(record.target)},"time":${JSON.stringify(record.time)}}`,
  };
}

function joinParts({ head, middle, tail }: RecordParts, hash?: string, seal?: string): string {
  if (hash === undefined) return `${head},${middle},${tail}`;
  const sealed = seal === undefined ? "" : `,"seal":"${seal}"`;
  return `${head},"hash":"${hash}",${middle}${sealed},${tail}`;
}

/** The canonical text of a record with and without its hash and seal. */
export function recordText(record: RecordBody, hash: string, seal?: string): RecordText {
  const parts = recordParts(record, detailsJson(record));
  return { hashed: joinParts(parts), line: joinParts(parts, hash, seal) };
}

function detailsJson(record: RecordBody): string {
  if (Object.keys(record.details).length === 0) return "{}";
  return canonicalDetails.get(record.details) ?? canonicalJson(record.details);
}

export function sha256Hex(text: string): string {
  return hash("sha256", text, "hex");
}

/** Completes a record: its hash, its seal when a seal key is given, and the line that stores it. */
export function makeRecord(body: RecordBody, sealKey?: SealKey): { record: AuditRecord; line: string } {
  const detailsText = detailsJson(body);
  const parts = recordParts(body, detailsText);
  const digest = sha256Hex(joinParts(parts));
  const seal = sealKey === undefined ? undefined : recordSeal(sealKey, digest);
  // The record handed back is what a reader will get: its own copy of the details, as stored.
  const details = detailsText === "{}" ? {} : (JSON.parse(detailsText) as JsonObject);
  const record: AuditRecord =
    seal === undefined ? { ...body, details, hash: digest } : { ...body, details, hash: digest, seal };
  return { record, line: joinParts(parts, digest, seal) };
}

/**
 * The Merkle leaf of a record: RFC 9162 leaf hash of the record's 32 raw hash bytes,
 * `sha256(0x00 || hex-decode(record.hash))`. Proofs and checkpoints are over these leaves.
 */
export function recordLeafHash(recordHash: string): Buffer {
  return merkleLeafHash(Buffer.from(recordHash, "hex"));
}

export type RecordProblem = { kind: "malformed" | "non-canonical" | "modified"; message: string };

const HASH_KEY = ',"hash":"';
const SEAL_KEY = ',"seal":"';
/** `,"hash":"` + 64 hex digits + `"` (and the same for the seal): the parts of a stored line not hashed. */
const HASH_FIELD_LENGTH = HASH_KEY.length + 65;
const SEAL_FIELD_LENGTH = SEAL_KEY.length + 65;
/** No valid record is longer (bounded fields); a longer line is refused before parsing. */
const MAX_LINE = 4 * MAX_NAME * 6 + MAX_REASON * 6 + MAX_DETAILS_BYTES + 1024;

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

/** Validates a caller's event at the edge; nothing is written when this throws. */
export function parseEvent(event: unknown): AuditEvent {
  const parsed = auditEventSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CustodyError(
      "ERR_AUDIT_RECORD_INVALID",
      `invalid audit event: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
      { details: { issues: parsed.error.issues } },
    );
  }
  return parsed.data as AuditEvent;
}
