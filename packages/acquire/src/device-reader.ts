import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
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
  const read = (position: number) => {
    const pending = readChunk(source, errors, position, Math.min(chunkBytes, size - position), options);
    pending.catch(() => undefined); // awaited below; a consumer that stops early must not leave it unhandled
    return pending;
  };
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
  errors: ReadErrorLog,
  position: number,
  length: number,
  options: DeviceReadOptions,
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
      await salvage(source, errors, buffer.subarray(filled), position + filled, options.retries ?? 2);
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

/** Reads `target` sector by sector: what reads is kept, what fails after the retries is zeros and a log entry. */
async function salvage(
  source: LocalSource,
  errors: ReadErrorLog,
  target: Buffer,
  position: number,
  retries: number,
): Promise<void> {
  const sector = source.description.sectorSize;
  for (let offset = 0; offset < target.length; offset += sector) {
    const piece = target.subarray(offset, Math.min(offset + sector, target.length));
    const failure = await readSector(source, errors, piece, position + offset, retries);
    if (failure !== undefined) {
      piece.fill(0);
      errors.add(position + offset, piece.length, failure);
    }
  }
}

async function readSector(
  source: LocalSource,
  errors: ReadErrorLog,
  piece: Buffer,
  position: number,
  retries: number,
): Promise<string | undefined> {
  let failure = "EIO";
  for (let attempt = 0; attempt <= retries; attempt += 1) {
    if (attempt > 0) errors.retries += 1;
    try {
      const { bytesRead } = await source.handle.read(piece, 0, piece.length, position);
      if (bytesRead === piece.length) return undefined;
      throw changed(source, `it ended at ${position + bytesRead} bytes while a failing sector was retried`);
    } catch (error) {
      if (!isMediumError(error))
        throw toCustodyError(error, "ERR_IO", `reading ${source.description.path} failed`);
      failure = (error as NodeJS.ErrnoException).code ?? "EIO";
    }
  }
  return failure;
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
