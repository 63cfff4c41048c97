import { type FileHandle, open } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core/errors";
import {
  assertPathArgument,
  type DigestResult,
  type HashAlgorithm,
  resolveAlgorithms,
} from "./algorithms.js";
import type { HashOptions } from "./digest.js";
import { MultiHash } from "./internal/multi-hash.js";
import { hashHandleInParallel } from "./internal/parallel.js";

/** Reads are this large: few system calls, little memory. */
export const READ_CHUNK_BYTES = 1024 * 1024;
// Below this a worker's start-up costs more than the second core saves.
const PARALLEL_MIN_BYTES = 32 * READ_CHUNK_BYTES;

/**
 * Digests a file in one read. Several algorithms on a large file are spread over worker threads that
 * share the read buffers, so sha256+sha1+md5 takes about as long as the slowest of them alone.
 */
export async function hashFile(path: string, options: HashOptions = {}): Promise<DigestResult> {
  assertPathArgument(path, "the file to hash");
  const algorithms = resolveAlgorithms(options.algorithms);
  throwIfAborted(options.abortSignal);
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot open ${path}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new CustodyError("ERR_INVALID_ARGUMENT", `${path} is a directory`);
    const parallel = stat.isFile() && stat.size >= PARALLEL_MIN_BYTES && useWorkers(algorithms);
    return parallel
      ? await hashHandleInParallel(handle, algorithms, READ_CHUNK_BYTES, options)
      : await hashHandle(handle, algorithms, options.abortSignal, {
          knownSize: stat.isFile() ? stat.size : undefined,
          onProgress: options.onProgress,
        });
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `reading ${path} failed`);
  } finally {
    await handle.close().catch(() => {});
  }
}

function useWorkers(algorithms: readonly HashAlgorithm[]): boolean {
  return algorithms.length > 1 && availableParallelism() > 1;
}

/**
 * How hashHandle reads. `knownSize` (a regular file's size at open) lets a short read that reaches it
 * mean end of file, saving a system call; pseudo-files (/proc, size 0) still read until 0 bytes.
 */
export interface ReadPlan {
  knownSize?: number | undefined;
  onProgress?: ((bytesHashed: number) => void) | undefined;
  /** Two buffers to alternate between (reused across files by hashTree); fresh 1 MiB ones if absent. */
  buffers?: readonly [Buffer, Buffer];
}

/**
 * Sequential reads into two alternating buffers: the next read runs in libuv's pool while this
 * thread hashes the current chunk, so the disk and the CPU work at the same time.
 */
export async function hashHandle(
  handle: FileHandle,
  algorithms: readonly HashAlgorithm[],
  signal: AbortSignal | undefined,
  plan: ReadPlan = {},
): Promise<DigestResult> {
  const hasher = new MultiHash(algorithms);
  const buffers = plan.buffers ?? [
    Buffer.allocUnsafe(READ_CHUNK_BYTES),
    Buffer.allocUnsafe(READ_CHUNK_BYTES),
  ];
  let current = 0;
  let pending: Promise<ReadOutcome> | undefined = readInto(handle, buffers[0]);
  try {
    while (pending !== undefined) {
      const { bytesRead, buffer }: ReadOutcome = await pending;
      if (bytesRead === 0) break;
      throwIfAborted(signal);
      current ^= 1;
      // A regular file reads short only at its end; pipes, devices and /proc read short any time.
      const total = hasher.size + bytesRead;
      const atEnd: boolean =
        bytesRead < buffer.byteLength && (plan.knownSize ?? 0) > 0 && total >= (plan.knownSize ?? 0);
      pending = atEnd ? undefined : readInto(handle, buffers[current] as Buffer);
      hasher.update(buffer.subarray(0, bytesRead));
      plan.onProgress?.(hasher.size);
    }
  } catch (error) {
    // The read in flight must settle before the caller closes the handle.
    await pending?.catch(() => {});
    throw error;
  }
  return hasher.result();
}

type ReadOutcome = { bytesRead: number; buffer: Buffer };

function readInto(handle: FileHandle, buffer: Buffer): Promise<ReadOutcome> {
  return handle.read(buffer, 0, buffer.byteLength, null);
}
