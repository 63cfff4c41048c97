import type { FileHandle } from "node:fs/promises";

/** The unit of compression and of read-ahead: large enough for deflate, small enough for flat memory. */
export const CHUNK_SIZE = 1024 * 1024;

/** Reads a file in full chunks of CHUNK_SIZE (the last one shorter), each in a fresh buffer. */
export async function* fileChunks(file: FileHandle): AsyncGenerator<Buffer> {
  for (;;) {
    const buffer = Buffer.allocUnsafe(CHUNK_SIZE);
    let filled = 0;
    while (filled < CHUNK_SIZE) {
      const { bytesRead } = await file.read(buffer, filled, CHUNK_SIZE - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > 0) yield filled === CHUNK_SIZE ? buffer : buffer.subarray(0, filled);
    if (filled < CHUNK_SIZE) return;
  }
}

/** Regroups a stream's pieces, whatever their size, into full chunks of CHUNK_SIZE. */
export async function* streamChunks(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Buffer> {
  let buffer = Buffer.allocUnsafe(CHUNK_SIZE);
  let filled = 0;
  for await (const piece of source) {
    let data = typeof piece === "string" ? Buffer.from(piece) : piece;
    while (data.length > 0) {
      const take = Math.min(data.length, CHUNK_SIZE - filled);
      buffer.set(data.subarray(0, take), filled);
      filled += take;
      data = data.subarray(take);
      if (filled === CHUNK_SIZE) {
        yield buffer;
        buffer = Buffer.allocUnsafe(CHUNK_SIZE);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}
