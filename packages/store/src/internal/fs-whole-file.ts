import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import { throwIfAborted } from "@custody/core";
import type { RingSlot } from "@custody/hash";
import { hashFile } from "@custody/hash";
import type { Sha256Result } from "../digest.js";
import type { StagedObserver, StageObserverFactory } from "../types.js";
import { copiesCanBeFollowed, copyWholeFile, GrowingCopy } from "./fs-copy.js";
import { afterSync } from "./fs-durable.js";
import { sha256HasherFor, THREADED_HASH_FROM_BYTES, ThreadedSha256Hasher } from "./hasher.js";

// A whole-file body (`wholeFileSource`): copied into the staging area by the kernel, the copy hashed as
// it grows. The streamed bodies are fs-write.ts's.

/** How a create reads and stages a body, as far as a whole file's copy is concerned. */
export interface WholeFileOptions {
  abortSignal: AbortSignal | undefined;
  onProgress: ((bytes: number) => void) | undefined;
  onStaged?: ((stagedPath: string) => void) | undefined;
  /** The copy is read back here (see `AddressedCreateOptions.observeStaged`). */
  observeStaged?: StageObserverFactory | undefined;
  /**
   * Moves a copy of the file begun earlier to `dest`, if there is one to take, and resolves to what says
   * when that copy is whole (see `takeEarlyCopy`).
   */
  takeEarlyCopy?:
    | ((source: string, dest: string) => Promise<{ whole: Promise<void> } | undefined>)
    | undefined;
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
export async function copyHashedFileThen<T>(
  path: string,
  source: string,
  options: WholeFileOptions,
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
