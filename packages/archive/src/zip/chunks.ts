import type { FileHandle } from "node:fs/promises";

/** The unit of compression and of read-ahead: large enough for deflate, small enough for flat memory. */
export const CHUNK_SIZE = 1024 * 1024;

/**
 * Reads a file in full chunks of CHUNK_SIZE (the last one shorter), each in a fresh buffer sized to
 * what is left, so a small file never pins a 1 MiB allocation.
 */
export async function* fileChunks(file: FileHandle): AsyncGenerator<Buffer> {
  let left = (await file.stat()).size;
  let grew = false;
  for (;;) {
    // One byte more than the stat said was left, so a file still growing is read to its real end.
    const buffer = Buffer.allocUnsafe(grew ? CHUNK_SIZE : Math.min(CHUNK_SIZE, left + 1));
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      // All that stat promised has arrived and the byte past it did not: the end, without one more read.
      if (!grew && filled >= left) break;
    }
    grew ||= filled > left;
    left = Math.max(0, left - filled);
    if (filled > 0) yield filled === buffer.length ? buffer : buffer.subarray(0, filled);
    if (filled < buffer.length) return;
  }
}

/** Regroups a stream's pieces, whatever their size, into full chunks of CHUNK_SIZE (a view of one copy). */
export async function* streamChunks(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of source) {
    const data =
      typeof piece === "string"
        ? Buffer.from(piece)
        : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    pieces.push(data);
    length += data.length;
    if (length < CHUNK_SIZE) continue;
    const all = pieces.length === 1 ? data : Buffer.concat(pieces, length);
    let at = 0;
    for (; length - at >= CHUNK_SIZE; at += CHUNK_SIZE) yield all.subarray(at, at + CHUNK_SIZE);
    pieces = at < length ? [all.subarray(at)] : [];
    length -= at;
  }
  if (length > 0) yield Buffer.concat(pieces, length);
}
