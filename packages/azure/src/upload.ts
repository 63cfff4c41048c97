import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { BlockBlobClient } from "@azure/storage-blob";
import { CustodyError, throwIfAborted } from "@custody/core";
import { blockId } from "./blob-record.js";
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
  concurrency: number;
  abortSignal: AbortSignal | undefined;
  onProgress: ((bytes: number) => void) | undefined;
}

/**
 * Streams `body` into staged (uncommitted) blocks, hashing the whole object on the way. Memory stays
 * at about (concurrency + 1) blocks whatever the object's size.
 */
export async function stageBlocks(
  blob: BlockBlobClient,
  key: string,
  body: Readable | AsyncIterable<Uint8Array>,
  options: StageOptions,
): Promise<StagedUpload> {
  let staged: Map<string, number> | undefined;
  const whole = createHash("sha256");
  const blockIds: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let reusedBlocks = 0;
  let size = 0;

  const send = async (block: Buffer): Promise<void> => {
    const id = blockId(key, blockIds.length, createHash("sha256").update(block).digest("hex"));
    blockIds.push(id);
    staged ??= await uncommittedBlocks(blob, options.abortSignal);
    if (staged.get(id) === block.byteLength) {
      reusedBlocks += 1;
      return;
    }
    while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    const upload: Promise<void> = blob
      .stageBlock(id, block, block.byteLength, { abortSignal: options.abortSignal })
      .then(
        () => undefined,
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => inFlight.delete(upload));
    inFlight.add(upload);
  };

  const pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of body) {
      if (!(chunk instanceof Uint8Array)) {
        throw new CustodyError("ERR_INVALID_ARGUMENT", "the body yielded something that is not bytes");
      }
      throwIfAborted(options.abortSignal);
      if (failure !== undefined) throw failure;
      whole.update(chunk);
      size += chunk.byteLength;
      pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      pendingBytes += chunk.byteLength;
      while (pendingBytes >= options.blockSizeBytes) {
        const joined = Buffer.concat(pending, pendingBytes);
        await send(joined.subarray(0, options.blockSizeBytes));
        pending.length = 0;
        pendingBytes = joined.byteLength - options.blockSizeBytes;
        if (pendingBytes > 0) pending.push(joined.subarray(options.blockSizeBytes));
      }
      options.onProgress?.(size);
    }
    if (blockIds.length === 0) {
      return {
        kind: "single",
        size,
        sha256: whole.digest("hex"),
        bytes: Buffer.concat(pending, pendingBytes),
      };
    }
    if (pendingBytes > 0) await send(Buffer.concat(pending, pendingBytes));
  } finally {
    await Promise.all(inFlight);
  }
  if (failure !== undefined) throw failure;
  throwIfAborted(options.abortSignal);
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
