import { link, open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { byteSizeSchema, CustodyError, isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import type { StoredObject } from "../types.js";
import { evidenceKeySchema, objectMetadataSchema } from "../validate.js";
import { errnoCode, fsyncDir, tempName, writeDurableFile } from "./fs-durable.js";

/** The immutable half of an object's record, written once beside its data. */
export const fsObjectMetaSchema = z.strictObject({
  format: z.literal("custody.fs-object/v1"),
  key: evidenceKeySchema,
  size: byteSizeSchema,
  sha256: sha256HexSchema,
  createdAt: isoTimestampSchema,
  version: z.string().min(1).max(100),
  metadata: objectMetadataSchema,
});

/** The mutable half: each change is a new numbered file, created exclusively (compare-and-swap). */
export const fsObjectStateSchema = z.strictObject({
  revision: z.number().int().nonnegative(),
  legalHold: z.boolean(),
  retainUntil: isoTimestampSchema.optional(),
  deleted: z.boolean(),
  changedAt: isoTimestampSchema,
});

export type FsObjectMeta = z.infer<typeof fsObjectMetaSchema>;
export type FsObjectState = z.infer<typeof fsObjectStateSchema>;

export const DATA_FILE = "data";
export const META_FILE = "meta.json";
const STATE_FILE = /^state-(\d{10})\.json$/;
const MAX_CAS_ATTEMPTS = 50;

export function stateFileName(revision: number): string {
  return `state-${String(revision).padStart(10, "0")}.json`;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value)}\n`);
}

export function toStoredObject(meta: FsObjectMeta, state: FsObjectState): StoredObject {
  return {
    key: meta.key,
    size: meta.size,
    sha256: meta.sha256,
    createdAt: new Date(meta.createdAt),
    ...(state.retainUntil === undefined ? {} : { retainUntil: new Date(state.retainUntil) }),
    legalHold: state.legalHold,
    version: meta.version,
    metadata: { ...meta.metadata },
  };
}

/** Reads an object's record, including tombstoned ones; ERR_NOT_FOUND when the directory is not an object. */
export async function readRecord(
  objectDir: string,
  key: string,
): Promise<{ meta: FsObjectMeta; state: FsObjectState }> {
  const [metaBytes, names] = await Promise.all([
    readSmallFile(join(objectDir, META_FILE)).catch((e: unknown) => rethrowNotFound(e, key)),
    readdir(objectDir).catch((e: unknown) => rethrowNotFound(e, key)),
  ]);
  const latest = names
    .filter((n) => STATE_FILE.test(n))
    .sort()
    .at(-1);
  if (latest === undefined) throw corrupt(key, "it has no state file");
  const meta = parseJson(fsObjectMetaSchema, metaBytes, key, META_FILE);
  const stateBytes = await readSmallFile(join(objectDir, latest)).catch((e: unknown) =>
    rethrowNotFound(e, key),
  );
  const state = parseJson(fsObjectStateSchema, stateBytes, key, latest);
  // On a case-insensitive filesystem "A" finds "a"'s directory; it is still not "A".
  if (meta.key !== key) throw notFound(key);
  return { meta, state };
}

/** What one read of a record file asks for: its files are a few hundred bytes (metadata: at most 4 KiB). */
const RECORD_READ_BYTES = 16 * 1024;

/**
 * A record file's bytes in as few calls as it takes (open, read to the end, close): `readFile` also
 * asks for the size first, a fifth of a vault-wide check's file calls for nothing.
 */
async function readSmallFile(path: string): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const parts: Buffer[] = [];
    let length = 0;
    for (;;) {
      const buffer = Buffer.allocUnsafe(RECORD_READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, length);
      if (bytesRead === 0) break;
      parts.push(buffer.subarray(0, bytesRead));
      length += bytesRead;
      // A short read of a local file is its end; one more read would only confirm it.
      if (bytesRead < buffer.length) break;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length);
  } finally {
    await handle.close();
  }
}

/** Reads a live (not deleted) object's record. */
export async function readLiveRecord(
  objectDir: string,
  key: string,
): Promise<{ meta: FsObjectMeta; state: FsObjectState }> {
  const record = await readRecord(objectDir, key);
  if (record.state.deleted) throw notFound(key);
  return record;
}

/**
 * Applies `change` to the latest state as a new revision. Two writers racing for one revision cannot
 * both win (link fails with EEXIST), so a hold set while a delete runs is never lost.
 */
export async function updateState(
  objectDir: string,
  tmpDir: string,
  key: string,
  change: (current: FsObjectState, meta: FsObjectMeta) => Omit<FsObjectState, "revision"> | undefined,
): Promise<{ meta: FsObjectMeta; state: FsObjectState }> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt += 1) {
    const { meta, state } = await readLiveRecord(objectDir, key);
    const next = change(state, meta);
    if (next === undefined) return { meta, state };
    const written = { ...next, revision: state.revision + 1 };
    if (await linkNewFile(tmpDir, join(objectDir, stateFileName(written.revision)), encodeJson(written))) {
      return { meta, state: written };
    }
  }
  throw new CustodyError("ERR_CONFLICT", `object ${JSON.stringify(key)} is changing too fast; try again`, {
    details: { key },
  });
}

/** Creates `target` with `bytes` atomically and exclusively; false when it already exists. */
async function linkNewFile(tmpDir: string, target: string, bytes: Uint8Array): Promise<boolean> {
  const temp = join(tmpDir, tempName(".state"));
  await writeDurableFile(temp, bytes);
  try {
    await link(temp, target);
  } catch (error) {
    if (errnoCode(error) === "EEXIST") return false;
    if (errnoCode(error) === "ENOENT")
      throw new CustodyError("ERR_NOT_FOUND", `object is gone`, { cause: error });
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDir(join(target, ".."));
  return true;
}

function parseJson<T>(schema: z.ZodType<T>, bytes: Buffer, key: string, file: string): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw corrupt(key, `${file} is not JSON`, error);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw corrupt(key, `${file} is not a valid record: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function corrupt(key: string, why: string, cause?: unknown): CustodyError {
  return new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `the record of ${JSON.stringify(key)} is damaged: ${why}`,
    {
      cause,
      details: { key },
    },
  );
}

export function notFound(key: string, cause?: unknown): CustodyError {
  return new CustodyError("ERR_NOT_FOUND", `no object with key ${JSON.stringify(key)}`, {
    cause,
    details: { key },
  });
}

function rethrowNotFound(error: unknown, key: string): never {
  const code = errnoCode(error);
  if (code === "ENOENT" || code === "ENOTDIR") throw notFound(key, error);
  throw error;
}
