import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import { DIRECT_BLOCK_BYTES, DirectReader } from "./direct-reader.js";
import type { LocalSource } from "./local-source.js";
import type { ReadErrorLog } from "./read-errors.js";

export interface DeviceReadOptions {
  /** Attempts after the first on a sector that fails (default 2), before it is zero-filled and recorded. */
  retries?: number;
  /** Bytes per read (default 4 MiB). */
  chunkBytes?: number;
  abortSignal?: AbortSignal;
}

const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
// Errors a failing medium gives; anything else (EBADF, ENOMEM...) is not a bad sector and stops the read.
const MEDIUM_ERRORS = new Set(["EIO", "ENXIO", "ENODATA", "EILSEQ", "EREMOTEIO"]);

/**
 * Reads the whole source once, in order, one chunk ahead of its consumer. A chunk that fails is read
 * again sector by sector; a sector that still fails after `retries` attempts is zero-filled and logged.
 * A source that ends early (shrank) or is larger at the end (grew) fails with ERR_SOURCE_CHANGED.
 */
export async function* readSource(
  source: LocalSource,
  errors: ReadErrorLog,
  options: DeviceReadOptions = {},
): AsyncIterable<Uint8Array> {
  const size = source.description.size;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const modifiedAt = await source.modifiedAt();
  const salvager = new Salvager(source, errors, options.retries ?? 2);
  const read = (position: number) => {
    const pending = readChunk(source, salvager, position, Math.min(chunkBytes, size - position));
    pending.catch(() => undefined); // awaited below; a consumer that stops early must not leave it unhandled
    return pending;
  };
  try {
    let position = 0;
    let next = size > 0 ? read(0) : undefined;
    while (next !== undefined) {
      throwIfAborted(options.abortSignal);
      const chunk = await next;
      position += chunk.byteLength;
      next = position < size ? read(position) : undefined;
      yield chunk;
    }
    await assertUnchanged(source, size, modifiedAt);
  } finally {
    await salvager.close();
  }
}

async function assertUnchanged(source: LocalSource, size: number, modifiedAt: number): Promise<void> {
  const now = await source.currentSize();
  if (now !== size) {
    throw changed(source, `its size went from ${size} to ${now} bytes while it was read`);
  }
  if ((await source.modifiedAt()) !== modifiedAt) {
    throw changed(source, "it was written to while it was read");
  }
}

async function readChunk(
  source: LocalSource,
  salvager: Salvager,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(length);
  let filled = 0;
  while (filled < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await source.handle.read(buffer, filled, length - filled, position + filled));
    } catch (error) {
      if (!isMediumError(error))
        throw toCustodyError(error, "ERR_IO", `reading ${source.description.path} failed`);
      // Re-read from the sector the failure is in (a short read before it may have ended mid-sector).
      const from = filled - (filled % source.description.sectorSize);
      await salvager.salvage(buffer.subarray(from), position + from);
      return buffer;
    }
    if (bytesRead === 0) {
      throw changed(
        source,
        `it ended at ${position + filled} bytes, ${source.description.size} were expected`,
      );
    }
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Re-reads a failed region block by block (64 KiB, O_DIRECT where the source allows it), a failing
 * block sector by sector; a sector that still fails after the retries is zero-filled and logged.
 */
class Salvager {
  #direct: Promise<DirectReader | undefined> | undefined;

  constructor(
    private readonly source: LocalSource,
    private readonly errors: ReadErrorLog,
    private readonly retries: number,
  ) {}

  async salvage(target: Buffer, position: number): Promise<void> {
    for (let offset = 0; offset < target.length; offset += DIRECT_BLOCK_BYTES) {
      const block = target.subarray(offset, Math.min(offset + DIRECT_BLOCK_BYTES, target.length));
      if ((await this.#attempt(block, position + offset)) === undefined) continue;
      await this.#sectors(block, position + offset);
    }
  }

  async close(): Promise<void> {
    await (await this.#direct)?.close();
  }

  async #sectors(block: Buffer, position: number): Promise<void> {
    const sector = this.source.description.sectorSize;
    for (let offset = 0; offset < block.length; offset += sector) {
      const piece = block.subarray(offset, Math.min(offset + sector, block.length));
      let failure = await this.#attempt(piece, position + offset);
      for (let retry = 0; failure !== undefined && retry < this.retries; retry += 1) {
        this.errors.retries += 1;
        failure = await this.#attempt(piece, position + offset);
      }
      if (failure !== undefined) {
        piece.fill(0);
        this.errors.add(position + offset, piece.length, failure);
      }
    }
  }

  /** One read of `piece` at `position`: undefined when it read whole, else the medium error's code. */
  async #attempt(piece: Buffer, position: number): Promise<string | undefined> {
    try {
      const direct =
        piece.length % this.source.description.sectorSize === 0 ? await this.#directReader() : undefined;
      const bytesRead =
        direct === undefined
          ? (await this.source.handle.read(piece, 0, piece.length, position)).bytesRead
          : await direct.readInto(piece, position);
      if (bytesRead === piece.length) return undefined;
    } catch (error) {
      if (!isMediumError(error)) {
        throw toCustodyError(error, "ERR_IO", `reading ${this.source.description.path} failed`);
      }
      return (error as NodeJS.ErrnoException).code ?? "EIO";
    }
    throw changed(
      this.source,
      `it ended before ${position + piece.length} bytes while a failure was re-read`,
    );
  }

  #directReader(): Promise<DirectReader | undefined> {
    this.#direct ??= DirectReader.open(this.source.description.path);
    return this.#direct;
  }
}

function isMediumError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && MEDIUM_ERRORS.has(code);
}

function changed(source: LocalSource, why: string): CustodyError {
  return new CustodyError(
    "ERR_SOURCE_CHANGED",
    `${source.description.path} changed during acquisition: ${why}`,
    {
      details: { path: source.description.path },
    },
  );
}
