import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { BlockBlobClient } from "@azure/storage-blob";
import { CustodyError, throwIfAborted } from "@custody/core";
import { blockId } from "./blob-record.js";
import { BlockPool } from "./block-pool.js";
import { blockSourceFor } from "./block-source.js";
import { statusOf } from "./errors.js";

/** A body smaller than one block is kept whole and sent in one create-only request. */
export type StagedUpload =
  | { kind: "single"; size: number; sha256: string; bytes: Buffer }
  | {
      kind: "blocks";
      size: number;
      sha256: string;
      blockIds: string[];
      /** Blocks a previous, interrupted attempt had already staged with the same bytes. */
      reusedBlocks: number;
    };

export interface StageOptions {
  blockSizeBytes: number;
  fileBlockSizeBytes: number;
  concurrency: number;
  abortSignal: AbortSignal | undefined;
  onProgress: ((bytes: number) => void) | undefined;
}

/**
 * Streams `body` into staged (uncommitted) blocks, hashing the whole object on the way, with at most
 * `concurrency` blocks in flight. Memory stays at about (concurrency + 1) blocks whatever the object's
 * size (`concurrency` blocks for a whole file).
 */
// The service's limit of blocks in one block blob.
const MAX_BLOCKS = 50_000;

export async function stageBlocks(
  blob: BlockBlobClient,
  key: string,
  body: Readable | AsyncIterable<Uint8Array>,
  options: StageOptions,
): Promise<StagedUpload> {
  const { concurrency, abortSignal } = options;
  const whole = createHash("sha256");
  const blockIds: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let staged: Map<string, number> | undefined;
  let failure: unknown;
  let reusedBlocks = 0;
  let size = 0;
  const checkpoint = (): void => {
    throwIfAborted(abortSignal);
    if (failure !== undefined) throw failure;
  };

  const send = async (buffer: Buffer, length: number): Promise<void> => {
    if (blockIds.length >= MAX_BLOCKS) {
      throw new CustodyError(
        "ERR_SIZE_LIMIT",
        `${JSON.stringify(key)} needs more than ${MAX_BLOCKS} blocks; raise blockSizeBytes`,
        {
          details: { key, blockSizeBytes },
        },
      );
    }
    // The object's digest up to this block's end (a copy of the running hash: no second pass).
    const id = blockId(key, blockIds.length, whole.copy().digest("hex"));
    blockIds.push(id);
    staged ??= await uncommittedBlocks(blob, abortSignal);
    if (staged.get(id) === length) {
      reusedBlocks += 1;
      pool.give(buffer);
      return;
    }
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const upload: Promise<void> = blob
      .stageBlock(id, buffer.subarray(0, length), length, { abortSignal })
      .then(
        () => undefined,
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => {
        inFlight.delete(upload);
        pool.give(buffer);
      });
    inFlight.add(upload);
  };

  const source = blockSourceFor(body, { checkpoint, onProgress: options.onProgress });
  const file = source.kind === "file";
  const blockSizeBytes = file ? options.fileBlockSizeBytes : options.blockSizeBytes;
  // A stream's next block is filled while `concurrency` are in flight; a file is read in a moment when
  // a buffer comes back, so it needs no spare.
  const pool = new BlockPool(blockSizeBytes, file ? concurrency : concurrency + 1);
  try {
    for (;;) {
      const buffer = await pool.take(); // waits until a block in flight gives its buffer back
      const length = await source.fill(buffer);
      checkpoint();
      whole.update(buffer.subarray(0, length));
      size += length;
      if (blockIds.length === 0 && length < blockSizeBytes) {
        const bytes = Buffer.from(buffer.subarray(0, length));
        return { kind: "single", size, sha256: whole.digest("hex"), bytes };
      }
      if (length > 0) await send(buffer, length);
      if (length < blockSizeBytes) break;
    }
  } finally {
    const closing = source.close();
    await Promise.all(inFlight);
    await closing;
  }
  checkpoint();
  return { kind: "blocks", size, sha256: whole.digest("hex"), blockIds, reusedBlocks };
}

/** Blocks staged but not committed under this name (by an interrupted upload); empty when none. */
async function uncommittedBlocks(
  blob: BlockBlobClient,
  abortSignal: AbortSignal | undefined,
): Promise<Map<string, number>> {
  try {
    const list = await blob.getBlockList("uncommitted", { abortSignal });
    return new Map((list.uncommittedBlocks ?? []).map((b) => [b.name, b.size]));
  } catch (error) {
    if (statusOf(error) === 404) return new Map();
    throw error;
  }
}
