// The size of the CSV chunks handed on.
export const CHUNK_BYTES = 64 * 1024;

/**
 * CSV lines encoded straight into 64 KiB chunks: one small UTF-8 write per line, where building a long
 * string and converting it at the end cost more than the listing's own formatting.
 */
export class Chunks {
  private buffer = Buffer.allocUnsafe(2 * CHUNK_BYTES);
  private used = 0;

  /** The buffer to write up to `bytes` more bytes into at `end()`, or undefined without that room. */
  room(bytes: number): Buffer | undefined {
    return bytes <= this.buffer.length - this.used ? this.buffer : undefined;
  }

  /** Where the next byte goes. */
  end(): number {
    return this.used;
  }

  /** Keeps what was written into `room()` up to `end`; returns a full chunk to hand on, or undefined. */
  advance(end: number): Buffer | undefined {
    this.used = end;
    return this.used >= CHUNK_BYTES ? this.take() : undefined;
  }

  /** Adds a line; returns a full chunk to hand on, or undefined. */
  add(line: string): Buffer | undefined {
    // A UTF-16 unit is at most 3 UTF-8 bytes: room for that many is room for the whole line.
    if (line.length * 3 <= this.buffer.length - this.used) {
      this.used += this.buffer.write(line, this.used, "utf8");
      return this.used >= CHUNK_BYTES ? this.take() : undefined;
    }
    // A line longer than the room left (long paths and link targets): what came before, then the line.
    const before = this.take();
    const encoded = Buffer.from(line, "utf8");
    return before === undefined ? encoded : Buffer.concat([before, encoded]);
  }

  /** What has been added since the last chunk, or undefined when nothing has. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const chunk = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(2 * CHUNK_BYTES);
    this.used = 0;
    return chunk;
  }
}
