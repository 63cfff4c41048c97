import type { FileHandle } from "node:fs/promises";
import { toCustodyError } from "@custody/core";

/** Reads are this large: few system calls. */
export const READ_BYTES = 1024 * 1024;

/**
 * The file's bytes from `position` on, read into two buffers that take turns: the read of the next chunk
 * runs while the consumer handles this one. A yielded chunk is only valid until the next one is asked
 * for (hash it, do not keep it): reusing the buffers spares a fresh 1 MiB allocation per read, whose
 * page faults and garbage collection cost more CPU than reading and hashing the bytes.
 */
export async function* reusedChunks(handle: FileHandle, position = 0): AsyncGenerator<Buffer, void> {
  const buffers = [Buffer.allocUnsafe(READ_BYTES), Buffer.allocUnsafe(READ_BYTES)] as const;
  let pending: Promise<number> | undefined = readAt(handle, buffers[0], position);
  try {
    for (let turn = 0; pending !== undefined; turn ^= 1) {
      const bytesRead = await pending;
      pending = undefined;
      if (bytesRead === 0) return;
      position += bytesRead;
      pending = readAt(handle, turn === 0 ? buffers[1] : buffers[0], position);
      yield (turn === 0 ? buffers[0] : buffers[1]).subarray(0, bytesRead);
    }
  } finally {
    // the read in flight must settle before the caller closes the handle
    await pending?.catch(() => undefined);
  }
}

/** One positioned read into `buffer`; an I/O failure as ERR_IO. */
export async function readAt(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  try {
    return (await handle.read(buffer, 0, buffer.length, position)).bytesRead;
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", "reading the file failed");
  }
}
