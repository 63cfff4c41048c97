import { type FileHandle, open } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createInflateRaw } from "node:zlib";
import { CustodyError, toCustodyError } from "@custody/core";
import { mapYauzlError, readCentralDirectory, readRange } from "./central-directory.js";
import { readDirectoryEnd } from "./directory-end.js";
import {
  type ArchiveEntry,
  type ArchiveLimits,
  checkCentralEntry,
  DEFAULT_LIMITS,
  EntrySet,
} from "./entry-checks.js";
import { EntryCheck, inflateSmall, sizeMismatch, streamError } from "./entry-stream.js";
import { checkLayout, type LocatedEntry } from "./layout.js";

export interface ArchiveReader {
  /** Every entry, in central-directory order, each already checked. */
  readonly entries: readonly ArchiveEntry[];
  /** The entry's bytes, decompressed; fails with a coded error if they differ from the declared size or CRC. */
  openEntry(entry: ArchiveEntry): Readable;
  /** A small entry's bytes at once (one read, inflated in one call, same checks); see WHOLE_LIMIT. */
  readWhole(entry: ArchiveEntry): Promise<Buffer>;
  /** A stored entry through one reused buffer, chunks handed to `update` synchronously; false if deflated. */
  scanStored(entry: ArchiveEntry, update: (chunk: Buffer) => void): Promise<boolean>;
  /**
   * Where a stored (not deflated) entry's bytes lie in the archive file, for a caller that reads the
   * file itself and checks them (size and CRC-32) as `scanStored` would; undefined for a deflated entry
   * or one whose stored and declared sizes differ (`scanStored` reports that).
   */
  storedSpan(entry: ArchiveEntry): StoredSpan | undefined;
  close(): Promise<void>;
}

/** A stored entry's bytes: `size` bytes from `start` in the archive file, whose CRC-32 must be `crc32`. */
export interface StoredSpan {
  start: number;
  size: number;
  crc32: number;
}

const READ_CHUNK = 1024 * 1024;
/** Entries up to this size (compressed and declared) are read whole: no stream machinery per small file. */
export const WHOLE_LIMIT = 1024 * 1024;

/**
 * Opens a ZIP archive for safe reading: the whole structure is checked before any entry can be read
 * (see entry-checks.ts and layout.ts); a hostile archive is refused with a coded CustodyError.
 */
export async function openArchive(
  path: string,
  options: { limits?: ArchiveLimits } = {},
): Promise<ArchiveReader> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const file = await open(path, "r").catch((error: unknown) => {
    throw toCustodyError(error, "ERR_IO", `cannot open ${path}`);
  });
  try {
    const { size } = await file.stat();
    const end = await readDirectoryEnd(file, size);
    if (end.entryCount > limits.maxEntries) {
      throw new CustodyError(
        "ERR_ARCHIVE_LIMIT",
        `${end.entryCount} entries; the limit is ${limits.maxEntries}`,
      );
    }
    const raw = await readCentralDirectory(file, size);
    if (raw.length !== end.entryCount)
      throw new CustodyError("ERR_ARCHIVE_MALFORMED", "the entry count is wrong");
    // Records past the declared count would be invisible here but listed by tools that read by size.
    const recordBytes = raw.reduce(
      (sum, e) => sum + 46 + e.fileNameLength + e.extraFieldLength + e.fileCommentLength,
      0,
    );
    if (recordBytes !== end.centralDirectorySize) {
      throw new CustodyError(
        "ERR_ARCHIVE_MALFORMED",
        `the central directory holds ${end.centralDirectorySize - recordBytes} bytes beyond its ${raw.length} records`,
      );
    }
    const set = new EntrySet(limits);
    const located: LocatedEntry[] = raw.map((entry) => {
      const checked = checkCentralEntry(entry, limits);
      set.add(checked);
      return { entry: checked, raw: entry };
    });
    const dataStarts = await checkLayout(file, located, end);
    return new Reader(
      file,
      located.map((item) => item.entry),
      dataStarts,
    );
  } catch (error) {
    await file.close();
    throw toCustodyError(
      mapYauzlError(error),
      "ERR_ARCHIVE_MALFORMED",
      `${path} is not a readable ZIP archive`,
    );
  }
}

class Reader implements ArchiveReader {
  constructor(
    private readonly file: FileHandle,
    readonly entries: readonly ArchiveEntry[],
    private readonly dataStarts: Map<ArchiveEntry, number>,
  ) {}

  openEntry(entry: ArchiveEntry): Readable {
    const start = this.dataStarts.get(entry);
    if (start === undefined)
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${entry.name} is not an entry of this archive`);
    const check = new EntryCheck(entry);
    if (entry.compressedSize === 0) {
      check.end();
      return check;
    }
    // Byte-counted buffering: about one chunk read ahead per entry, so memory stays flat.
    const input = Readable.from(readRange(this.file, start, start + entry.compressedSize, READ_CHUNK), {
      objectMode: false,
      highWaterMark: READ_CHUNK,
    });
    const inflater = entry.method === "deflate" ? createInflateRaw({ chunkSize: 64 * 1024 }) : undefined;
    check.inflater = inflater;
    const done = inflater === undefined ? pipeline(input, check) : pipeline(input, inflater, check);
    done.catch((error: unknown) => check.destroy(streamError(error, entry)));
    return check;
  }

  async scanStored(entry: ArchiveEntry, update: (chunk: Buffer) => void): Promise<boolean> {
    if (entry.method !== "store") return false;
    const start = this.dataStarts.get(entry);
    if (start === undefined)
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${entry.name} is not an entry of this archive`);
    if (entry.compressedSize !== entry.size) {
      throw sizeMismatch(entry, `${entry.compressedSize} bytes stored, ${entry.size} declared`);
    }
    const buffer = Buffer.allocUnsafeSlow(Math.max(1, Math.min(READ_CHUNK, entry.size)));
    let crc = 0;
    for (let done = 0; done < entry.size; ) {
      const length = Math.min(buffer.length, entry.size - done);
      const { bytesRead } = await this.file.read(buffer, 0, length, start + done);
      if (bytesRead === 0)
        throw new CustodyError("ERR_ARCHIVE_MALFORMED", `${entry.name}: unexpected end of file`);
      const chunk = buffer.subarray(0, bytesRead);
      crc = crc32(chunk, crc);
      update(chunk);
      done += bytesRead;
    }
    if (crc >>> 0 !== entry.crc32 >>> 0) {
      throw new CustodyError("ERR_INTEGRITY_MISMATCH", `${entry.name}: CRC-32 differs`, {
        details: { path: entry.name },
      });
    }
    return true;
  }

  storedSpan(entry: ArchiveEntry): StoredSpan | undefined {
    const start = this.dataStarts.get(entry);
    if (start === undefined || entry.method !== "store" || entry.compressedSize !== entry.size)
      return undefined;
    return { start, size: entry.size, crc32: entry.crc32 >>> 0 };
  }

  async readWhole(entry: ArchiveEntry): Promise<Buffer> {
    const start = this.dataStarts.get(entry);
    if (start === undefined || entry.compressedSize > WHOLE_LIMIT || entry.size > WHOLE_LIMIT) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${entry.name} is not a small entry of this archive`);
    }
    const raw = Buffer.allocUnsafeSlow(entry.compressedSize);
    for (let done = 0; done < raw.length; ) {
      const { bytesRead } = await this.file.read(raw, done, raw.length - done, start + done);
      if (bytesRead === 0)
        throw new CustodyError("ERR_ARCHIVE_MALFORMED", `${entry.name}: unexpected end of file`);
      done += bytesRead;
    }
    const data = entry.method === "store" ? raw : await inflateSmall(raw, entry);
    if (data.length !== entry.size) throw sizeMismatch(entry, `${data.length} bytes, ${entry.size} declared`);
    if (crc32(data) >>> 0 !== entry.crc32 >>> 0) {
      throw new CustodyError("ERR_INTEGRITY_MISMATCH", `${entry.name}: CRC-32 differs`, {
        details: { path: entry.name },
      });
    }
    return data;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
