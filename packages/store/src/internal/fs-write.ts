import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { CustodyError, throwIfAborted } from "@custody/core";
import { bodyChunks } from "../chunks.js";
import type { Sha256Result } from "../digest.js";
import { wholeFileSource } from "../whole-file.js";
import { BatchedFileWriter } from "./fs-batched-write.js";
import { afterSync } from "./fs-durable.js";
import { RingFileWriter } from "./fs-ring-write.js";
import { copyHashedFileThen, type WholeFileOptions } from "./fs-whole-file.js";
import { type Sha256Hasher, sha256HasherFor, ThreadedSha256Hasher } from "./hasher.js";

// Start writeback every so often so the final fsync does not wait for the whole object at once.
const WRITEBACK_EVERY_BYTES = 64 * 1024 * 1024;

/**
 * Writes `body` to a new read-only file, hashing each chunk while the previous one is being written
 * (one read of the input, hash and write overlapped), then fsyncs it.
 */
export async function writeHashedFile(
  path: string,
  body: Readable | AsyncIterable<Uint8Array>,
  options: {
    abortSignal: AbortSignal | undefined;
    onProgress: ((bytes: number) => void) | undefined;
    sizeHint?: number | undefined;
  },
): Promise<Sha256Result> {
  return (await writeHashedFileThen(path, body, options, async () => undefined)).digest;
}

/**
 * `writeHashedFile`, with `whileSyncing` called once every byte is written and hashed, side by side with
 * the final fsync: the caller may read the file meanwhile (from the page cache). Returns once both are
 * done, so nothing built on the file is ever ahead of its durability.
 */
export async function writeHashedFileThen<T>(
  path: string,
  body: Readable | AsyncIterable<Uint8Array>,
  // observeStaged and takeEarlyCopy are for a whole-file body only
  options: WholeFileOptions & { sizeHint?: number | undefined },
  whileSyncing: (digest: Sha256Result) => Promise<T>,
): Promise<{ digest: Sha256Result; result: T }> {
  const source = wholeFileSource(body);
  if (source !== undefined) return copyHashedFileThen(path, source, options, whileSyncing);
  const handle = await open(path, "wx", 0o444);
  const hash = sha256HasherFor(options.sizeHint);
  let size = 0;
  let sinceWriteback = 0;
  // A large body is copied once, into the hashing worker's ring, and written from there.
  const writer =
    hash instanceof ThreadedSha256Hasher ? new RingFileWriter(handle, hash) : hashedBatches(handle, hash);
  let writeback: Promise<void> | undefined;
  // A stalled source would never reach the next abort check; destroying it ends the loop now.
  const onAbort = (): void => {
    if (typeof (body as Readable).destroy === "function") (body as Readable).destroy();
  };
  options.abortSignal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of bodyChunks(body)) {
      throwIfAborted(options.abortSignal);
      if (!(chunk instanceof Uint8Array)) {
        throw new CustodyError("ERR_INVALID_ARGUMENT", "the body yielded something that is not bytes");
      }
      const room = writer.add(chunk); // a promise only while the hashing or the disk catches up
      if (room !== undefined) await room;
      size += chunk.byteLength;
      sinceWriteback += chunk.byteLength;
      // One writeback at a time, so writes never queue behind syncs in the thread pool.
      if (sinceWriteback >= WRITEBACK_EVERY_BYTES && writeback === undefined) {
        sinceWriteback = 0;
        writeback = writer.writing
          .then(() => handle.datasync())
          .finally(() => {
            writeback = undefined;
          });
      }
      options.onProgress?.(size);
    }
    await writer.flush();
    throwIfAborted(options.abortSignal);
    options.onStaged?.(path);
    const digest = await hash.digest();
    const syncing = (async () => {
      await writeback;
      await handle.sync();
    })();
    return { digest, result: await afterSync(syncing, whileSyncing(digest)) };
  } catch (error) {
    throwIfAborted(options.abortSignal);
    throw error;
  } finally {
    if ("dispose" in hash) hash.dispose();
    options.abortSignal?.removeEventListener("abort", onAbort);
    await Promise.allSettled([writer.close(), writeback]);
    await handle.close();
  }
}

/** A small body: hashed in this thread as it comes, written in batches (`RingFileWriter`'s shape). */
function hashedBatches(handle: FileHandle, hash: Sha256Hasher) {
  const batches = new BatchedFileWriter(handle);
  return {
    get writing(): Promise<void> {
      return batches.writing;
    },
    add(chunk: Uint8Array): Promise<void> {
      hash.update(chunk);
      return batches.add(chunk);
    },
    flush: () => batches.flush(),
    close: () => batches.close(),
  };
}
