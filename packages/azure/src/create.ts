import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { BlobImmutabilityPolicy, BlockBlobClient } from "@azure/storage-blob";
import { type Clock, CustodyError, type Logger } from "@custody/core";
import type { ValidCreateOptions } from "@custody/store";
import { type BlobRecord, recordToMetadata } from "./blob-record.js";
import { type StagedUpload, stageBlocks } from "./upload.js";

export interface CreateContext {
  clock: Clock;
  logger: Logger;
  /** The service enforces WORM: protection travels with the commit (and is confirmed afterwards). */
  service: boolean;
  lockRetention: boolean;
  blockSizeBytes: number;
  /** The block size for a whole-file body. */
  fileBlockSizeBytes: number;
  concurrency: number;
}

/**
 * Streams the body up (hashing it on the way), then makes the object visible in one create-only
 * request: the block-list commit, or a single upload for a body smaller than one block.
 */
export async function uploadObject(
  blob: BlockBlobClient,
  key: string,
  body: Readable | AsyncIterable<Uint8Array>,
  opts: ValidCreateOptions,
  context: CreateContext,
): Promise<BlobRecord> {
  const staged = await stageBlocks(blob, key, body, { ...context, ...opts });
  if (staged.kind === "blocks" && staged.reusedBlocks > 0) {
    context.logger.info({ key, reusedBlocks: staged.reusedBlocks }, "upload resumed");
  }
  if (opts.expectedSha256 !== undefined && staged.sha256 !== opts.expectedSha256) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the body of ${JSON.stringify(key)} does not hash to expectedSha256`,
      {
        details: { key, expectedSha256: opts.expectedSha256, actualSha256: staged.sha256 },
      },
    );
  }
  const record = newRecord(key, staged, opts, context.clock);
  const commit = {
    conditions: { ifNoneMatch: "*" },
    metadata: recordToMetadata(record),
    abortSignal: opts.abortSignal,
    ...(context.service ? serviceProtection(opts, context.lockRetention) : {}),
  };
  if (staged.kind === "single") await blob.upload(staged.bytes, staged.bytes.byteLength, commit);
  else await blob.commitBlockList(staged.blockIds, commit);
  return record;
}

function newRecord(key: string, staged: StagedUpload, opts: ValidCreateOptions, clock: Clock): BlobRecord {
  return {
    key,
    size: staged.size,
    sha256: staged.sha256,
    createdAt: clock.now(),
    version: randomUUID(),
    metadata: opts.metadata,
    initial: {
      legalHold: opts.legalHold,
      ...(opts.retainUntil ? { retainUntil: opts.retainUntil.toISOString() } : {}),
      deleted: false,
    },
  };
}

function serviceProtection(
  opts: ValidCreateOptions,
  lock: boolean,
): { legalHold?: boolean; immutabilityPolicy?: BlobImmutabilityPolicy } {
  return {
    ...(opts.legalHold ? { legalHold: true } : {}),
    ...(opts.retainUntil
      ? { immutabilityPolicy: { expiriesOn: opts.retainUntil, policyMode: lock ? "Locked" : "Unlocked" } }
      : {}),
  };
}
