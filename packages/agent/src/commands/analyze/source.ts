import type { FileHandle } from "node:fs/promises";

/** Bounded random reads of one open file: what the header parsers see (never past its end). */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer at the end of the file; none past it). */
  read(offset: number, length: number): Promise<Buffer>;
}

/** Largest single read a parser may ask for. */
export const MAX_READ = 1024 * 1024;

export function handleSource(handle: FileHandle, size: number): ByteSource {
  return {
    size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size || length <= 0)
        return Buffer.alloc(0);
      const want = Math.min(length, MAX_READ, size - offset);
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      return buffer.subarray(0, bytesRead);
    },
  };
}

export function bufferSource(bytes: Buffer): ByteSource {
  return {
    size: bytes.length,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || offset < 0 || offset >= bytes.length || length <= 0)
        return Buffer.alloc(0);
      return bytes.subarray(offset, offset + Math.min(length, MAX_READ));
    },
  };
}

/** Shannon entropy in bits per byte (0..8) of a byte histogram. */
export function entropyOf(counts: ArrayLike<number>, total: number): number {
  if (total === 0) return 0;
  let bits = 0;
  for (let i = 0; i < 256; i++) {
    const n = counts[i] ?? 0;
    if (n === 0) continue;
    const p = n / total;
    bits -= p * Math.log2(p);
  }
  return Math.round(bits * 1000) / 1000;
}

export function bufferEntropy(bytes: Buffer): number {
  const counts = new Float64Array(256);
  countBytes(counts, bytes);
  return entropyOf(counts, bytes.length);
}

/** Adds a chunk's bytes to a histogram (an indexed loop: several times faster than iterating). */
export function countBytes(counts: Float64Array, chunk: Uint8Array): void {
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i] as number;
    counts[byte] = (counts[byte] as number) + 1;
  }
}
