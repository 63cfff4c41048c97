/**
 * The check of one stored line on its bytes, for the lines the writer produces: ASCII, no escapes,
 * details a flat object. It accepts a line only when `parseRecordLine` would accept it with the same
 * fields, and answers "ask parseRecordLine" for everything else (any problem, any unusual line), so the
 * verdict and its message stay that function's. No JSON.parse, no string per line: a verifier worker's
 * cost per record was mostly parsing, strings and their garbage. node:crypto only (worker threads).
 */
import { hash } from "node:crypto";
import { MAX_LINE } from "./line-check.js";
import { MAX_NAME, MAX_REASON, validDateTime } from "./shape.js";

/** Where a line's fields are, filled by `scanRecordBytes` (one reused object: nothing allocated per line). */
export interface ByteRecord {
  seq: number;
  /** Offsets of the 64 hex digits of `hash`, `prev` and `seal` (-1: no seal) in the scanned buffer. */
  hashAt: number;
  prevAt: number;
  sealAt: number;
  /** The record's hash as 32 raw bytes at offset 1 (offset 0 is free for the Merkle leaf's prefix). */
  readonly digest: Buffer;
}

export function byteRecord(): ByteRecord {
  return { seq: 0, hashAt: 0, prevAt: 0, sealAt: -1, digest: Buffer.alloc(33) };
}

const text = (value: string): Buffer => Buffer.from(value, "latin1");
const OPEN = text('{"action":"');
const ACTOR = text('","actor":"');
const DETAILS = text('","details":');
const HASH = text(',"hash":"');
const OUTCOME = text('","outcome":"');
const PREV = text('","prev":"');
const REASON = text('","reason":"');
const SEAL = text('","seal":"');
const SEQ = text('","seq":');
const TARGET = text(',"target":"');
const TIME = text('","time":"');
const OUTCOMES = [text('allow"'), text('deny"'), text('error"')];
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** `,"hash":"` + 64 hex + `"`, and the same for the seal: the bytes a record's hash does not cover. */
const FIELD = HASH.length + 65;
/** Lower-case hex digit values, -1 for any other byte. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i += 1) HEX[i < 10 ? 0x30 + i : 0x57 + i] = i;

let scratch = Buffer.alloc(4096);
/** Views of the scratch buffer's first n bytes, made once per length: no object per line hashed. */
let views: Buffer[] = [];

function view(length: number): Buffer {
  let found = views[length];
  if (found === undefined) {
    found = scratch.subarray(0, length);
    views[length] = found;
  }
  return found;
}

/**
 * Whether bytes [start, end) are a record `parseRecordLine` accepts, checked on the bytes: its fields
 * in canonical order, their shapes, and its hash over the line without the hash and seal fields. On
 * true, `out` says where the fields are. False means only "not decided here".
 */
export function scanRecordBytes(bytes: Buffer, start: number, end: number, out: ByteRecord): boolean {
  if (end - start > MAX_LINE) return false;
  let at = literal(bytes, start, end, OPEN);
  at = literal(bytes, stringEnd(bytes, at, end, MAX_NAME, 1), end, ACTOR);
  at = literal(bytes, stringEnd(bytes, at, end, MAX_NAME, 1), end, DETAILS);
  const hashField = objectEnd(bytes, at, end);
  at = literal(bytes, hashField, end, HASH);
  if (at < 0 || !hexInto(bytes, at, out.digest, 1)) return false;
  out.hashAt = at;
  at = literal(bytes, at + 64, end, OUTCOME);
  at = oneOf(bytes, at, end);
  at = literal(bytes, at - 1, end, PREV);
  if (at < 0 || !isHex(bytes, at)) return false;
  out.prevAt = at;
  at = literal(bytes, at + 64, end, REASON);
  at = stringEnd(bytes, at, end, MAX_REASON, 0);
  const sealField = at;
  out.sealAt = -1;
  const sealAt = literal(bytes, at, end, SEAL);
  if (sealAt >= 0) {
    if (!isHex(bytes, sealAt)) return false;
    out.sealAt = sealAt;
    at = sealAt + 64;
  }
  at = literal(bytes, at, end, SEQ);
  at = seqEnd(bytes, at, end, out);
  at = literal(bytes, at, end, TARGET);
  at = literal(bytes, stringEnd(bytes, at, end, MAX_NAME, 1), end, TIME);
  if (at < 0 || at + 26 !== end || !isTime(bytes, at) || bytes[at + 24] !== QUOTE || bytes[at + 25] !== 0x7d)
    return false;
  return hashMatches(bytes, start, hashField, sealField, end, out);
}

/** sha256 of the line without its hash and seal fields, compared with the digest the line states. */
function hashMatches(
  bytes: Buffer,
  start: number,
  hashField: number,
  sealField: number,
  end: number,
  out: ByteRecord,
): boolean {
  if (scratch.length < end - start) {
    scratch = Buffer.alloc(2 * (end - start));
    views = [];
  }
  let length = bytes.copy(scratch, 0, start, hashField);
  if (out.sealAt < 0) {
    length += bytes.copy(scratch, length, hashField + FIELD, end);
  } else {
    // The seal field starts after the reason's closing quote.
    length += bytes.copy(scratch, length, hashField + FIELD, sealField + 1);
    length += bytes.copy(scratch, length, sealField + 1 + FIELD, end);
  }
  const actual = hash("sha256", view(length), "binary");
  for (let i = 0; i < 32; i += 1) if (actual.charCodeAt(i) !== out.digest[i + 1]) return false;
  return true;
}

/** The offset after `expected` when the bytes at `at` are it, else -1 (and -1 stays -1). */
function literal(bytes: Buffer, at: number, end: number, expected: Buffer): number {
  if (at < 0 || at + expected.length > end) return -1;
  for (let i = 0; i < expected.length; i += 1) if (bytes[at + i] !== expected[i]) return -1;
  return at + expected.length;
}

/**
 * The offset of the closing quote of a string of `min` to `max` characters starting at `at`, or -1
 * when it holds an escape or a control character (JSON.parse's business) or does not end on the line.
 */
function stringEnd(bytes: Buffer, at: number, end: number, max: number, min: number): number {
  if (at < 0) return -1;
  for (let i = at; i < end; i += 1) {
    const byte = bytes[i] as number;
    if (byte === QUOTE) return i - at >= min && i - at <= max ? i : -1;
    if (byte < 0x20 || byte === BACKSLASH) return -1;
  }
  return -1;
}

/** The offset after a flat JSON object at `at` (strings, numbers, true, false, null), else -1. */
function objectEnd(bytes: Buffer, at: number, end: number): number {
  if (at < 0 || bytes[at] !== 0x7b) return -1;
  let i = at + 1;
  if (bytes[i] === 0x7d) return i + 1;
  for (;;) {
    if (bytes[i] !== QUOTE) return -1;
    i = stringEnd(bytes, i + 1, end, MAX_LINE, 0);
    if (i < 0 || bytes[i + 1] !== 0x3a) return -1;
    i = valueEnd(bytes, i + 2, end);
    if (i < 0) return -1;
    if (bytes[i] === 0x7d) return i + 1;
    if (bytes[i] !== 0x2c) return -1;
    i += 1;
  }
}

const TRUE = text("true");
const FALSE = text("false");
const NULL = text("null");

function valueEnd(bytes: Buffer, at: number, end: number): number {
  switch (bytes[at]) {
    case QUOTE: {
      const close = stringEnd(bytes, at + 1, end, MAX_LINE, 0);
      return close < 0 ? -1 : close + 1;
    }
    case 0x74:
      return literal(bytes, at, end, TRUE);
    case 0x66:
      return literal(bytes, at, end, FALSE);
    case 0x6e:
      return literal(bytes, at, end, NULL);
    default:
      return numberEnd(bytes, at, end);
  }
}

/** JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function numberEnd(bytes: Buffer, at: number, end: number): number {
  let i = bytes[at] === 0x2d ? at + 1 : at;
  if (bytes[i] === 0x30) i += 1;
  else if (isDigit(bytes[i])) i = digitsEnd(bytes, i, end);
  else return -1;
  if (bytes[i] === 0x2e) {
    if (!isDigit(bytes[i + 1])) return -1;
    i = digitsEnd(bytes, i + 1, end);
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i += bytes[i + 1] === 0x2b || bytes[i + 1] === 0x2d ? 2 : 1;
    if (!isDigit(bytes[i])) return -1;
    i = digitsEnd(bytes, i, end);
  }
  return i < end ? i : -1;
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

function digitsEnd(bytes: Buffer, at: number, end: number): number {
  let i = at;
  while (i < end && isDigit(bytes[i])) i += 1;
  return i;
}

/** `seq`: 0 or a safe integer without leading zeros (anything else is parseRecordLine's to judge). */
function seqEnd(bytes: Buffer, at: number, end: number, out: ByteRecord): number {
  if (at < 0 || !isDigit(bytes[at])) return -1;
  const stop = digitsEnd(bytes, at, end);
  if (stop - at > 16 || (bytes[at] === 0x30 && stop - at > 1)) return -1;
  let value = 0;
  // The digit first: value * 10 + 0x3x would round above 2^53 before the subtraction.
  for (let i = at; i < stop; i += 1) value = value * 10 + ((bytes[i] as number) - 0x30);
  if (value > Number.MAX_SAFE_INTEGER) return -1;
  out.seq = value;
  return stop;
}

/** `allow"`, `deny"` or `error"` at `at`: the offset after the closing quote. */
function oneOf(bytes: Buffer, at: number, end: number): number {
  for (const outcome of OUTCOMES) {
    const after = literal(bytes, at, end, outcome);
    if (after >= 0) return after;
  }
  return -1;
}

function isHex(bytes: Buffer, at: number): boolean {
  for (let i = at; i < at + 64; i += 1) if ((HEX[bytes[i] as number] as number) < 0) return false;
  return true;
}

/** Decodes 64 lower-case hex digits at `at` into 32 bytes of `out` at `outAt`; false if they are not. */
function hexInto(bytes: Buffer, at: number, out: Buffer, outAt: number): boolean {
  for (let i = 0; i < 32; i += 1) {
    const high = HEX[bytes[at + 2 * i] as number] as number;
    const low = HEX[bytes[at + 2 * i + 1] as number] as number;
    if (high < 0 || low < 0) return false;
    out[outAt + i] = high * 16 + low;
  }
  return true;
}

/** YYYY-MM-DDTHH:MM:SS.mmmZ, a real date and time of day. */
function isTime(bytes: Buffer, at: number): boolean {
  for (let i = 0; i < 24; i += 1) {
    const byte = bytes[at + i] as number;
    const ok = TIME_FORM[i] === 0x64 ? byte >= 0x30 && byte <= 0x39 : byte === TIME_FORM[i];
    if (!ok) return false;
  }
  return validDateTime(
    number(bytes, at, 4),
    number(bytes, at + 5, 2),
    number(bytes, at + 8, 2),
    number(bytes, at + 11, 2),
    number(bytes, at + 14, 2),
    number(bytes, at + 17, 2),
  );
}

/** The number written by `count` ASCII digits at `at` (checked to be digits). */
function number(bytes: Buffer, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i += 1) value = value * 10 + ((bytes[i] as number) - 0x30);
  return value;
}

/** The time's form, `d` for a digit. */
const TIME_FORM = text("dddd-dd-ddTdd:dd:dd.dddZ");
