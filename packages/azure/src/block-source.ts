import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { CustodyError } from "@custody/core";
import { bodyChunks, wholeFileSource } from "@custody/store";

/** Fills block buffers from a body, in order; a count below the buffer's length means the body ended. */
export interface BlockSource {
  readonly kind: "file" | "stream";
  fill(buffer: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface SourceHooks {
  /** Called before each read; throws to stop the upload (an abort, a failed block). */
  checkpoint: () => void;
  onProgress: ((bytes: number) => void) | undefined;
}

/**
 * A whole file (`fs.createReadStream(path)` unread) is read straight into the block buffers: no chunk
 * is allocated and copied on the way, which cost a copy and most of the garbage collection per upload.
 */
export function blockSourceFor(body: Readable | AsyncIterable<Uint8Array>, hooks: SourceHooks): BlockSource {
  const path = wholeFileSource(body);
  return path === undefined ? streamSource(body, hooks) : fileSource(path, hooks);
}

function fileSource(path: string, hooks: SourceHooks): BlockSource {
  let handle: FileHandle | undefined;
  let position = 0;
  return {
    kind: "file",
    async fill(buffer) {
      handle ??= await open(path, "r");
      let filled = 0;
      while (filled < buffer.byteLength) {
        hooks.checkpoint();
        const { bytesRead } = await handle.read(buffer, filled, buffer.byteLength - filled, position);
        if (bytesRead === 0) break;
        filled += bytesRead;
        position += bytesRead;
        hooks.onProgress?.(position);
      }
      return filled;
    },
    async close() {
      await handle?.close();
    },
  };
}

function streamSource(body: Readable | AsyncIterable<Uint8Array>, hooks: SourceHooks): BlockSource {
  const chunks = bodyChunks(body);
  // The part of the last chunk that did not fit in the previous block.
  let rest: Uint8Array | undefined;
  let size = 0;
  const nextChunk = async (): Promise<Uint8Array | undefined> => {
    const next = await chunks.next();
    if (next.done === true) return undefined;
    if (!(next.value instanceof Uint8Array)) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "the body yielded something that is not bytes");
    }
    hooks.checkpoint();
    size += next.value.byteLength;
    hooks.onProgress?.(size);
    return next.value;
  };
  return {
    kind: "stream",
    async fill(buffer) {
      let filled = 0;
      while (filled < buffer.byteLength) {
        const chunk = rest ?? (await nextChunk());
        if (chunk === undefined) break;
        const n = Math.min(chunk.byteLength, buffer.byteLength - filled);
        buffer.set(chunk.subarray(0, n), filled);
        filled += n;
        rest = n === chunk.byteLength ? undefined : chunk.subarray(n);
      }
      return filled;
    },
    async close() {
      await chunks.return(undefined);
    },
  };
}
