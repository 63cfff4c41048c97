/**
 * The stored-record check on the verification path: the same rules as `auditRecordSchema`, written out
 * by hand because it runs once per record and verification must keep up with 300,000 records a second.
 * A test keeps the two in agreement.
 */
const FIELDS = new Set([
  "action",
  "actor",
  "details",
  "hash",
  "outcome",
  "prev",
  "reason",
  "seq",
  "target",
  "time",
]);
const HEX64 = /^[0-9a-f]{64}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const OUTCOMES = new Set(["allow", "deny", "error"]);

/** Bounds one record so a hostile caller cannot make a line that no reader will hold. */
export const MAX_DETAILS_BYTES = 64 * 1024;
export const MAX_NAME = 1024;
export const MAX_REASON = 8192;

/**
 * Why `value` is not a stored audit record, or undefined when it is one. With `linked`, `hash` and
 * `prev` are only checked to be 64-character strings: the caller compares them with digests it computed
 * (the record's own hash, the previous record's), which a non-hex string can never equal.
 */
export function recordShapeProblem(value: unknown, linked = false): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object";
  const keys = Object.keys(value);
  const v = value as Record<string, unknown>;
  const sealed = Object.hasOwn(v, "seal");
  if (keys.length !== FIELDS.size + (sealed ? 1 : 0) || !knownFields(keys))
    return "unexpected or missing fields";
  // The seal is never compared with anything computed here, so its form is checked in full.
  if (sealed && !(typeof v.seal === "string" && HEX64.test(v.seal))) return "seal is not a sha256 HMAC";
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 0) return "seq is not a sequence number";
  if (typeof v.time !== "string" || !TIME.test(v.time) || !validTime(v.time))
    return "time is not a UTC timestamp";
  for (const name of ["actor", "action", "target"] as const) {
    if (!isText(v[name], MAX_NAME) || (v[name] as string).length === 0)
      return `${name} is not a non-empty string`;
  }
  if (!isText(v.reason, MAX_REASON)) return "reason is not a string";
  if (typeof v.outcome !== "string" || !OUTCOMES.has(v.outcome)) return "outcome is not allow, deny or error";
  if (typeof v.details !== "object" || v.details === null || Array.isArray(v.details))
    return "details is not an object";
  if (!isDigest(v.prev, linked)) return "prev is not a sha256";
  if (!isDigest(v.hash, linked)) return "hash is not a sha256";
  return undefined;
}

function knownFields(keys: readonly string[]): boolean {
  for (const key of keys) if (!FIELDS.has(key) && key !== "seal") return false;
  return true;
}

function isDigest(value: unknown, linked: boolean): boolean {
  return typeof value === "string" && (linked ? value.length === 64 : HEX64.test(value));
}

function isText(value: unknown, max: number): boolean {
  return typeof value === "string" && value.length <= max && value.isWellFormed();
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Calendar check of a TIME-shaped string (Date.parse would cost more than the rest of the record). */
function validTime(text: string): boolean {
  return validDateTime(
    digits(text, 0, 4),
    digits(text, 5, 2),
    digits(text, 8, 2),
    digits(text, 11, 2),
    digits(text, 14, 2),
    digits(text, 17, 2),
  );
}

/** The calendar rule for a stored time's fields, shared with the byte-level line check. */
export function validDateTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean {
  if (month < 1 || month > 12 || day < 1 || day > (DAYS[month - 1] as number)) return false;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return false;
  return hour < 24 && minute < 60 && second < 60;
}

/** The number written by `count` ASCII digits at `at` (TIME has checked they are digits): no substrings. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i += 1) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}
