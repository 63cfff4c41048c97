import canonicalize from "canonicalize";
import { CustodyError } from "./errors.js";

/** A value that has one RFC 8785 (JCS) serialization. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * RFC 8785 canonical JSON: keys sorted by UTF-16 code units, ECMAScript number formatting, minimal
 * string escapes. The result is what custody signs and hashes, so anything that has no single
 * canonical form (NaN, Infinity, lone surrogates, undefined, functions, cycles) is refused.
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, "$");
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    throw new CustodyError("ERR_CANONICAL_JSON", `value cannot be canonicalized: ${String(cause)}`, {
      cause,
    });
  }
  if (text === undefined) throw new CustodyError("ERR_CANONICAL_JSON", "value has no JSON form");
  return text;
}

/** The canonical form as UTF-8 bytes, ready to hash or sign. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}

function assertJsonValue(value: unknown, path: string, seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) fail(path, "a string with a lone surrogate");
      return;
    case "number":
      if (!Number.isFinite(value)) fail(path, String(value));
      return;
    case "boolean":
      return;
    case "object":
      if (value === null) return;
      assertContainer(value, path, seen);
      return;
    default:
      fail(path, typeof value);
  }
}

function assertContainer(value: object, path: string, seen: Set<object>): void {
  if (seen.has(value)) fail(path, "a circular reference");
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
    fail(path, `an instance of ${value.constructor?.name ?? "an unknown class"}`);
  }
  seen.add(value);
  for (const [key, child] of Object.entries(value)) {
    if (!key.isWellFormed()) fail(path, "a key with a lone surrogate");
    assertJsonValue(child, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`, seen);
  }
  seen.delete(value);
}

function fail(path: string, what: string): never {
  throw new CustodyError("ERR_CANONICAL_JSON", `${path} is ${what}, which has no canonical JSON form`, {
    details: { path },
  });
}
