import { mkdir, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { type Clock, CustodyError, type IdGenerator } from "@custody/core";
import type { Sha256Result } from "../digest.js";
import { assertValidKey, objectMetadataSchema, type ValidCreateOptions } from "../validate.js";
import { errnoCode, fsyncDir, mkdirDurable, writeDurableFile } from "./fs-durable.js";
import {
  DATA_FILE,
  encodeJson,
  type FsObjectMeta,
  type FsObjectState,
  META_FILE,
  notFound,
  readRecord,
  stateFileName,
} from "./fs-record.js";
import type { WholeFileOptions } from "./fs-whole-file.js";
import { writeHashedFile, writeHashedFileThen } from "./fs-write.js";

function initialRecord(
  key: string,
  digest: Sha256Result,
  opts: ValidCreateOptions,
  now: Date,
  ids: IdGenerator,
): { meta: FsObjectMeta; state: FsObjectState } {
  const at = now.toISOString();
  const meta: FsObjectMeta = {
    format: "custody.fs-object/v1",
    key,
    ...digest,
    createdAt: at,
    version: ids.next(),
    metadata: opts.metadata,
  };
  const retention = opts.retainUntil === undefined ? {} : { retainUntil: opts.retainUntil.toISOString() };
  const state: FsObjectState = {
    revision: 0,
    legalHold: opts.legalHold,
    ...retention,
    deleted: false,
    changedAt: at,
  };
  return { meta, state };
}

/** Writes data, record and initial state into a new staging directory, all fsynced: the object, complete. */
export async function stageObject(
  staging: string,
  key: string,
  body: Readable | AsyncIterable<Uint8Array>,
  opts: ValidCreateOptions,
  now: Date,
  ids: IdGenerator,
): Promise<{ meta: FsObjectMeta; state: FsObjectState }> {
  await mkdir(staging);
  const digest = await writeHashedFile(join(staging, DATA_FILE), body, opts);
  if (opts.expectedSha256 !== undefined && digest.sha256 !== opts.expectedSha256) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the body of ${JSON.stringify(key)} does not hash to expectedSha256`,
      {
        details: { key, expectedSha256: opts.expectedSha256, actualSha256: digest.sha256 },
      },
    );
  }
  return writeRecord(staging, initialRecord(key, digest, opts, now, ids));
}

/**
 * Like `stageObject` for a body whose key and metadata depend on its digest: `place` decides them once
 * the data is written and durable. Returns the staged record (its key is the placed one).
 */
export async function stageAddressedObject(
  staging: string,
  body: Readable | AsyncIterable<Uint8Array>,
  opts: ValidCreateOptions & Pick<WholeFileOptions, "onStaged" | "observeStaged" | "takeEarlyCopy">,
  place: (
    written: Sha256Result & { stagedPath: string },
  ) => Promise<{ key: string; metadata?: Record<string, string> }>,
  clock: Clock,
  ids: IdGenerator,
): Promise<{ meta: FsObjectMeta; state: FsObjectState }> {
  await mkdir(staging);
  const stagedPath = join(staging, DATA_FILE);
  // `place` may read the staged bytes while they are being made durable; the commit waits for both.
  const { digest, result: placed } = await writeHashedFileThen(stagedPath, body, opts, (written) =>
    place({ sha256: written.sha256, size: written.size, stagedPath }),
  );
  assertValidKey(placed.key);
  const metadata = placed.metadata ?? {};
  const parsed = objectMetadataSchema.safeParse(metadata);
  if (!parsed.success) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `the placed metadata of ${JSON.stringify(placed.key)} is not valid`,
    );
  }
  const record = initialRecord(placed.key, digest, { ...opts, metadata: { ...metadata } }, clock.now(), ids);
  return writeRecord(staging, record);
}

async function writeRecord(
  staging: string,
  record: { meta: FsObjectMeta; state: FsObjectState },
): Promise<{ meta: FsObjectMeta; state: FsObjectState }> {
  await Promise.all([
    writeDurableFile(join(staging, META_FILE), encodeJson(record.meta)),
    writeDurableFile(join(staging, stateFileName(0)), encodeJson(record.state)),
  ]);
  await fsyncDir(staging);
  return record;
}

/**
 * Moves a complete, fsynced staging directory into place. rename() of a directory onto an existing
 * (never empty) object directory fails, so the key is taken only if it is still free: no TOCTOU.
 */
export async function commitStaging(
  objectsRoot: string,
  staging: string,
  target: string,
  key: string,
): Promise<void> {
  const parents = target
    .slice(objectsRoot.length + 1)
    .split("/")
    .slice(0, -1);
  await mkdirDurable(objectsRoot, parents);
  try {
    await rename(staging, target);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOTEMPTY" || code === "EEXIST") throw alreadyExists(key, error);
    throw error;
  }
  // The new entry must survive a crash; a stale tmp/ entry could only ever be a leftover, removed on open.
  await fsyncDir(dirname(target));
}

/** The cheap early check, made before a byte of the body is read. */
export async function assertKeyFree(target: string, key: string): Promise<void> {
  const record = await readRecord(target, key).catch((error: unknown) => {
    if ((error as CustodyError).code === "ERR_NOT_FOUND") return undefined;
    throw error;
  });
  if (record === undefined) return;
  if (record.state.deleted) {
    throw new CustodyError("ERR_CONFLICT", `${JSON.stringify(key)} is being deleted; try again`, {
      details: { key },
    });
  }
  throw alreadyExists(key);
}

export function assertDeletable(key: string, state: FsObjectState, sameVersion: boolean, now: Date): void {
  if (!sameVersion) throw notFound(key);
  if (state.legalHold) {
    throw new CustodyError("ERR_IMMUTABLE", `${JSON.stringify(key)} is under legal hold`, {
      details: { key },
    });
  }
  if (state.retainUntil !== undefined && new Date(state.retainUntil).getTime() > now.getTime()) {
    throw new CustodyError("ERR_IMMUTABLE", `${JSON.stringify(key)} is retained until ${state.retainUntil}`, {
      details: { key, retainUntil: state.retainUntil },
    });
  }
}

function alreadyExists(key: string, cause?: unknown): CustodyError {
  return new CustodyError("ERR_ALREADY_EXISTS", `an object with key ${JSON.stringify(key)} already exists`, {
    cause,
    details: { key },
  });
}
