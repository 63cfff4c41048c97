import { type Clock, CustodyError, sha256HexSchema, unsafePathReason } from "@custody/core";
import { z } from "zod";
import type { CreateOptions } from "./types.js";

/**
 * The key grammar shared by every backend: 1 to 32 segments joined by "/", each segment 1 to 128 of
 * `A-Z a-z 0-9 . _ -` not starting with "."; at most 1024 characters in all. ASCII only, so a key
 * means the same thing on every filesystem and in every blob service (no Unicode normalization, no
 * percent-encoding), and no segment can be ".", ".." or a hidden name.
 */
export const EVIDENCE_KEY_PATTERN =
  /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){0,31}$/;
const MAX_KEY_LENGTH = 1024;
const METADATA_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_METADATA_JSON = 4096;

export const evidenceKeySchema = z
  .string()
  .max(MAX_KEY_LENGTH)
  .regex(EVIDENCE_KEY_PATTERN, "segments of A-Z a-z 0-9 . _ - joined by '/', none starting with '.'");

export const objectMetadataSchema = z
  .record(z.string().regex(METADATA_NAME), z.string())
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_JSON, "metadata is larger than 4 KiB");

/** Throws ERR_UNSAFE_PATH for a key that could escape its root, ERR_INVALID_ARGUMENT for other bad keys. */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== "string") {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `the key must be a string, not ${typeof key}`);
  }
  const unsafe = unsafePathReason(key);
  if (unsafe !== undefined) {
    throw new CustodyError("ERR_UNSAFE_PATH", `key ${JSON.stringify(key)} is unsafe: ${unsafe}`, {
      details: { key },
    });
  }
  if (!evidenceKeySchema.safeParse(key).success) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `key ${JSON.stringify(key)} is not a valid evidence key: use 1-32 segments of A-Z a-z 0-9 . _ - (not starting with '.') joined by '/', at most ${MAX_KEY_LENGTH} characters`,
      { details: { key } },
    );
  }
}

/** Throws ERR_INVALID_ARGUMENT for a list prefix that no valid key could start with. */
export function assertValidPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || prefix.length > MAX_KEY_LENGTH || !/^[A-Za-z0-9._/-]*$/.test(prefix)) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `list prefix ${JSON.stringify(prefix)} is not valid`, {
      details: { prefix },
    });
  }
}

export interface ValidCreateOptions {
  expectedSha256: string | undefined;
  retainUntil: Date | undefined;
  legalHold: boolean;
  metadata: Record<string, string>;
  abortSignal: AbortSignal | undefined;
  onProgress: ((bytes: number) => void) | undefined;
  sizeHint: number | undefined;
}

/** Checks every create option up front so a bad call changes nothing. */
export function validateCreateOptions(options: CreateOptions | undefined, clock: Clock): ValidCreateOptions {
  const o = options ?? {};
  if (typeof o !== "object") invalid("create options must be an object");
  if (o.expectedSha256 !== undefined && !sha256HexSchema.safeParse(o.expectedSha256).success) {
    invalid("expectedSha256 must be 64 lower-case hex digits");
  }
  const retainUntil = o.retainUntil === undefined ? undefined : validRetention(o.retainUntil, clock);
  if (o.legalHold !== undefined && typeof o.legalHold !== "boolean") invalid("legalHold must be a boolean");
  const metadata = o.metadata ?? {};
  const parsed = objectMetadataSchema.safeParse(metadata);
  if (!parsed.success) invalid(`metadata is not valid: ${parsed.error.issues[0]?.message ?? "bad shape"}`);
  if (o.onProgress !== undefined && typeof o.onProgress !== "function")
    invalid("onProgress must be a function");
  if (o.sizeHint !== undefined && !(Number.isSafeInteger(o.sizeHint) && o.sizeHint >= 0))
    invalid("sizeHint must be a non-negative integer");
  return {
    expectedSha256: o.expectedSha256,
    retainUntil,
    legalHold: o.legalHold ?? false,
    metadata: { ...metadata },
    abortSignal: o.abortSignal,
    onProgress: o.onProgress,
    sizeHint: o.sizeHint,
  };
}

/** A retention date must be a real instant in the future (a past one would protect nothing). */
export function validRetention(until: unknown, clock: Clock): Date {
  if (!(until instanceof Date) || Number.isNaN(until.getTime())) invalid("retainUntil must be a valid Date");
  if (until.getTime() <= clock.now().getTime()) invalid("retainUntil must be in the future");
  return new Date(until.getTime());
}

/** Checks a body is something create can stream from. */
export function assertBody(body: unknown): void {
  const ok =
    typeof body === "object" &&
    body !== null &&
    typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
  if (!ok) invalid("the body must be a Readable or an AsyncIterable<Uint8Array>");
}

function invalid(message: string): never {
  throw new CustodyError("ERR_INVALID_ARGUMENT", message);
}
