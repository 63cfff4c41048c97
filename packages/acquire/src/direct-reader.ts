import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/** Largest read the salvage pass makes at once; a block that fails is then read sector by sector. */
export const DIRECT_BLOCK_BYTES = 64 * 1024;
const ALIGNMENT_PROBE_BYTES = 4096;

/**
 * Reads that bypass the page cache (O_DIRECT), for re-reading around a failure: buffered reads fail a
 * whole readahead window or large folio at once, which would zero-fill good sectors next to a bad one.
 * O_DIRECT needs a sector-aligned buffer, and JavaScript cannot ask for one: the alignment is found
 * once by trying offsets into a larger buffer (a misaligned read fails with EINVAL before any I/O).
 */
export class DirectReader {
  readonly #handle: FileHandle;
  readonly #view: Buffer;

  private constructor(handle: FileHandle, view: Buffer) {
    this.#handle = handle;
    this.#view = view;
  }

  /** Undefined when the source cannot be opened with O_DIRECT (then buffered reads are used). */
  static async open(path: string): Promise<DirectReader | undefined> {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECT).catch(
      () => undefined,
    );
    if (handle === undefined) return undefined;
    const backing = Buffer.allocUnsafeSlow(DIRECT_BLOCK_BYTES + ALIGNMENT_PROBE_BYTES);
    for (let offset = 0; offset < ALIGNMENT_PROBE_BYTES; offset += 16) {
      const view = backing.subarray(offset, offset + DIRECT_BLOCK_BYTES);
      // Probe with a whole block: the kernel may accept a misaligned single sector and not a block.
      const outcome = await handle.read(view, 0, DIRECT_BLOCK_BYTES, 0).then(
        () => "aligned",
        (error: NodeJS.ErrnoException) => (error.code === "EINVAL" ? "misaligned" : "aligned"),
      );
      if (outcome === "aligned") return new DirectReader(handle, view);
    }
    await handle.close();
    return undefined;
  }

  /** Reads `length` (a multiple of the sector size, at most DIRECT_BLOCK_BYTES) at `position` into `target`. */
  async readInto(target: Buffer, position: number): Promise<number> {
    const { bytesRead } = await this.#handle.read(this.#view, 0, target.length, position);
    this.#view.copy(target, 0, 0, bytesRead);
    return bytesRead;
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}
