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
import { MAX_DETAILS_BYTES, MAX_NAME, MAX_REASON } from "./shape.js";

export { parseRecordLine, type RecordProblem } from "./line-check.js";
export { MAX_DETAILS_BYTES } from "./shape.js";

/** The `prev` of the first record: there is nothing before it. */
export const GENESIS_PREV = "0".repeat(64);

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
/** The canonical text of valid details, or undefined when `value` cannot be a record's details. */
export function canonicalDetailsText(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  try {
    const text = flatJson(value) ?? canonicalJson(value);
    return Buffer.byteLength(text) > MAX_DETAILS_BYTES ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * RFC 8785 text of a plain object whose values are strings, finite numbers, booleans or null (most
 * details), built directly: for these JCS is each key and value through JSON.stringify, keys in UTF-16
 * code-unit order. canonicalJson's general walk cost ~0.8 us and ~2 KB of garbage per append. Anything
 * else is undefined and goes to canonicalJson; a property test pins the two together.
 */
export function flatJson(value: object): string | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  // canonicalize serializes what a toJSON method returns, even a hidden or inherited one.
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  const keys = sortedKeys(value);
  let text = "{";
  for (const key of keys) {
    const child: unknown = (value as Record<string, unknown>)[key];
    const type = typeof child;
    if (!key.isWellFormed()) return undefined;
    if (
      type === "string"
        ? !(child as string).isWellFormed()
        : type === "number"
          ? !Number.isFinite(child)
          : type !== "boolean" && child !== null
    ) {
      return undefined;
    }
    text += `${text.length > 1 ? "," : ""}${JSON.stringify(key)}:${JSON.stringify(child)}`;
  }
  return `${text}}`;
}

/**
 * Object.keys in UTF-16 code-unit order, as sort() gives it (`>` compares strings by code units); a few
 * keys by insertion, because sort()'s work arrays were ~0.8 KB of garbage per append.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i += 1) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j -= 1) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
  return keys;
}

function isValidDetails(value: unknown): value is JsonObject {
  const text = canonicalDetailsText(value);
  if (text === undefined) return false;
  canonicalDetails.set(value as object, text);
  return true;
}

const detailsSchema = z.custom<JsonObject>(isValidDetails, {
  message: `details must be a JSON object of at most ${MAX_DETAILS_BYTES} canonical bytes`,
});

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
export function makeRecord(
  body: RecordBody,
  sealKey?: SealKey,
  detailsText = detailsJson(body),
): { record: AuditRecord; line: string } {
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
  // The hex decoded straight into a reused input and the digest taken as a latin1 string: half the
  // cost of a Buffer digest, once per append. Anything but 64 hex digits takes the general path.
  if (recordHash.length !== 64 || leafInput.write(recordHash, 1, 32, "hex") !== 32) {
    return merkleLeafHash(Buffer.from(recordHash, "hex"));
  }
  return Buffer.from(hash("sha256", leafInput, "binary"), "latin1");
}

/** 0x00 (RFC 9162's leaf prefix) and room for a record's 32 hash bytes; hashing is synchronous. */
const leafInput = Buffer.alloc(33);

/** Validates a caller's event at the edge with zod; nothing is written when this throws. */
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
