import { type FileHandle, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { CustodyError, throwIfAborted } from "@custody/core";
import type { RingSlot } from "@custody/hash";
import { hashFile } from "@custody/hash";
import { bodyChunks } from "../chunks.js";
import type { Sha256Result } from "../digest.js";
import type { StagedObserver, StageObserverFactory } from "../types.js";
import { wholeFileSource } from "../whole-file.js";
import { BatchedFileWriter } from "./fs-batched-write.js";
import { copiesCanBeFollowed, copyWholeFile, GrowingCopy } from "./fs-copy.js";
import { RingFileWriter } from "./fs-ring-write.js";
import {
  type Sha256Hasher,
  sha256HasherFor,
  THREADED_HASH_FROM_BYTES,
  ThreadedSha256Hasher,
} from "./hasher.js";

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
  options: {
    abortSignal: AbortSignal | undefined;
    onProgress: ((bytes: number) => void) | undefined;
    sizeHint?: number | undefined;
    onStaged?: ((stagedPath: string) => void) | undefined;
    /** Only for a whole-file body, whose copy is read back here (see `AddressedCreateOptions`). */
    observeStaged?: StageObserverFactory | undefined;
    /**
     * Only for a whole-file body: moves a copy of it begun earlier to `dest`, if there is one to take,
     * and resolves to what says when that copy is whole (see `takeEarlyCopy`).
     */
    takeEarlyCopy?:
      | ((source: string, dest: string) => Promise<{ whole: Promise<void> } | undefined>)
      | undefined;
  },
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

/**
 * `placing`'s value once it and `syncing` have both settled (so neither outlives the handle they use);
 * the sync's failure first, then the placing's.
 */
async function afterSync<T>(syncing: Promise<void>, placing: Promise<T>): Promise<T> {
  const [synced, done] = await Promise.allSettled([syncing, placing]);
  if (synced.status === "rejected") throw synced.reason;
  if (done.status === "rejected") throw done.reason;
  return done.value;
}

/** Reads of a small staged copy, hashed in this thread (and shown to an observer). */
const STAGED_READ_BYTES = 1024 * 1024;
/**
 * Reads of a large staged copy, straight into the hashing worker's ring: each is a message to the worker
 * and one back, which cost more here than the bytes (a 1 GiB ingest hashed ~0.1 s sooner with 2 MiB than
 * with 1 MiB; 4 MiB was no faster).
 */
const RING_SLOT_BYTES = 2 * 1024 * 1024;

/**
 * sha256 of the staged copy. A large one is hashed on a worker thread (this thread only reads it from
 * the page cache into the worker's ring), so whatever examines the copy meanwhile (`onStaged`, or the
 * `observer` each chunk of this read is shown to: a package's verification hashes its entries on this
 * thread) runs beside it instead of after it.
 */
async function hashStagedCopy(
  path: string,
  copy: GrowingCopy,
  abortSignal: AbortSignal | undefined,
  observer: StagedObserver | undefined,
  threaded: ThreadedSha256Hasher | undefined,
): Promise<Sha256Result> {
  if (threaded !== undefined) return await hashIntoRing(copy, threaded, abortSignal, observer);
  // A small copy is read once the kernel is done with it.
  await copy.whole;
  const handle = copy.handle;
  const { size } = await handle.stat();
  if (size < THREADED_HASH_FROM_BYTES && observer === undefined) {
    const hashed = await hashFile(path, {
      algorithms: ["sha256"],
      ...(abortSignal === undefined ? {} : { abortSignal }),
    });
    return { size: hashed.size, sha256: hashed.digests.sha256 ?? "" };
  }
  const hasher = sha256HasherFor(size);
  let position = 0;
  for (;;) {
    throwIfAborted(abortSignal);
    // The in-thread hasher (a small file) may keep what it is given: a fresh buffer each read.
    const buffer = Buffer.allocUnsafe(STAGED_READ_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    await Promise.all([observer?.(chunk, position), hasher.update(chunk)]);
    position += bytesRead;
  }
  return hasher.digest();
}

/** Slots of one read each: the ring holds 8 MiB instead of 16 (a package ingest's peak memory). */
function stagedCopyHasher(): ThreadedSha256Hasher {
  return new ThreadedSha256Hasher({ slotBytes: RING_SLOT_BYTES });
}

/**
 * Reads the file straight into the hashing worker's ring (no copy), one slot ahead, so this thread
 * never waits for a read; the observer sees each slot's bytes before they are handed to the worker.
 * The copy may still be growing: each read waits for its bytes (`GrowingCopy.read`).
 */
async function hashIntoRing(
  copy: GrowingCopy,
  hasher: ThreadedSha256Hasher,
  abortSignal: AbortSignal | undefined,
  observer: StagedObserver | undefined,
): Promise<Sha256Result> {
  let position = 0;
  let current = await hasher.claim();
  let next: RingSlot | undefined;
  let reading: Promise<{ bytesRead: number }> | undefined = copy.read(
    current.bytes,
    0,
    current.bytes.length,
    0,
  );
  // An observer that keeps the bytes for a while (hashing them on a thread of its own) holds the slot
  // until it is through, without holding up this read; its failure fails the read.
  const observing: Promise<void>[] = [];
  let observerFailure: { error: unknown } | undefined;
  try {
    for (;;) {
      const { bytesRead } = await (reading as Promise<{ bytesRead: number }>);
      reading = undefined;
      throwIfAborted(abortSignal);
      if (observerFailure !== undefined) throw observerFailure.error;
      if (bytesRead === 0) break;
      next = await hasher.claim();
      reading = copy.read(next.bytes, 0, next.bytes.length, position + bytesRead);
      const returned = observer?.(current.bytes.subarray(0, bytesRead), position);
      const held = returned instanceof Promise ? returned : undefined;
      if (held !== undefined) {
        held.catch((error: unknown) => {
          observerFailure ??= { error };
        });
        observing.push(held);
      }
      current.commit(bytesRead, held);
      position += bytesRead;
      current = next;
      next = undefined;
    }
    await Promise.all(observing);
  } finally {
    // Never close the file under a read still in flight (a failed hash or observer).
    await reading?.catch(() => {});
    current.release();
    next?.release();
  }
  return hasher.digest();
}

/**
 * A file source: copied in the kernel (copy_file_range, no bytes through user space), and the COPY is
 * hashed (what is stored is what is named, whatever happens to the source meanwhile) as the kernel
 * writes it, where the file system allows (`copiesCanBeFollowed`), and made durable once whole; a source
 * changed while it was copied is refused (`assertWholeCopy`). `whileSyncing` runs beside the fsync as in
 * the streamed path.
 */
async function copyHashedFileThen<T>(
  path: string,
  source: string,
  options: {
    abortSignal: AbortSignal | undefined;
    onProgress: ((bytes: number) => void) | undefined;
    onStaged?: ((stagedPath: string) => void) | undefined;
    observeStaged?: StageObserverFactory | undefined;
    takeEarlyCopy?:
      | ((source: string, dest: string) => Promise<{ whole: Promise<void> } | undefined>)
      | undefined;
  },
  whileSyncing: (digest: Sha256Result) => Promise<T>,
): Promise<{ digest: Sha256Result; result: T }> {
  throwIfAborted(options.abortSignal);
  const before = await stat(source, { bigint: true });
  // A large copy is hashed on a worker thread, started now so it is ready for the copy's first bytes.
  const threaded = before.size >= BigInt(THREADED_HASH_FROM_BYTES) ? stagedCopyHasher() : undefined;
  let copy: GrowingCopy;
  try {
    // A copy begun before the store was opened, when it may stand for this one (see EarlyCopy).
    const whole = (await options.takeEarlyCopy?.(source, path))?.whole ?? copyWholeFile(source, before, path);
    whole.catch(() => {}); // read through `copy`, or dropped with it
    const follow = threaded !== undefined && (await copiesCanBeFollowed(dirname(path)));
    copy = await GrowingCopy.open(path, whole, follow);
  } catch (error) {
    threaded?.dispose();
    throw error;
  }
  const handle = copy.handle;
  // Read-only and durable as soon as the kernel is done, while the hashing may still run; a copy whose
  // create already failed (an abort, a refused observer) is not synced, only waited for.
  let failed = false;
  const syncing = copy.whole.then(async () => {
    if (failed) return;
    await handle.chmod(0o444);
    options.onStaged?.(path);
    await handle.sync();
  });
  syncing.catch(() => {});
  try {
    throwIfAborted(options.abortSignal);
    const observer = await options.observeStaged?.(path, copy.whole);
    const digest = await hashStagedCopy(path, copy, options.abortSignal, observer, threaded);
    await copy.whole;
    options.onProgress?.(digest.size);
    return { digest, result: await afterSync(syncing, whileSyncing(digest)) };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    threaded?.dispose();
    // Never close the file under the chmod or the sync (nor before the kernel's copy has ended).
    await syncing.catch(() => {});
    await handle.close();
  }
}
