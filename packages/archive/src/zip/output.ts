import type { FileHandle } from "node:fs/promises";

const BUFFER_SIZE = 1024 * 1024;

/**
 * Sequential output to a file with a write buffer, plus patches at earlier positions: a local header
 * whose sizes are known only after its data is written gets them here, so the archive needs no data
 * descriptors. Patches that still sit in the buffer are applied there.
 */
export class PatchableOutput {
  #file: FileHandle;
  #buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  #buffered = 0;
  #flushedTo = 0;

  constructor(file: FileHandle) {
    this.#file = file;
  }

  /** Bytes written so far (buffered or not): the offset of the next byte. */
  get position(): number {
    return this.#flushedTo + this.#buffered;
  }

  async write(data: Buffer): Promise<void> {
    if (data.length >= BUFFER_SIZE) {
      await this.flush();
      await this.#writeFully(data, this.#flushedTo);
      this.#flushedTo += data.length;
      return;
    }
    if (this.#buffered + data.length > BUFFER_SIZE) await this.flush();
    data.copy(this.#buffer, this.#buffered);
    this.#buffered += data.length;
  }

  /** Overwrites bytes at an earlier `position` with `data`. */
  async patch(position: number, data: Buffer): Promise<void> {
    const end = position + data.length;
    if (end > this.position) throw new RangeError("patch past the end of the output");
    const inBuffer = Math.min(data.length, Math.max(0, end - this.#flushedTo));
    const onDisk = data.length - inBuffer;
    if (onDisk > 0) await this.#writeFully(data.subarray(0, onDisk), position);
    if (inBuffer > 0) data.copy(this.#buffer, position + onDisk - this.#flushedTo, onDisk);
  }

  /** Drops everything from `position` on (a failed entry); the file is cut there when it is closed. */
  rewind(position: number): void {
    if (position > this.position) throw new RangeError("rewind past the end of the output");
    if (position >= this.#flushedTo) {
      this.#buffered = position - this.#flushedTo;
      return;
    }
    this.#flushedTo = position;
    this.#buffered = 0;
  }

  async flush(): Promise<void> {
    if (this.#buffered === 0) return;
    await this.#writeFully(this.#buffer.subarray(0, this.#buffered), this.#flushedTo);
    this.#flushedTo += this.#buffered;
    this.#buffered = 0;
  }

  async #writeFully(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#file.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }
}
