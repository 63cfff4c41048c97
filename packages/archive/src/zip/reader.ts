import { type FileHandle, open } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createInflateRaw, type InflateRaw } from "node:zlib";
import { CustodyError, toCustodyError } from "@custody/core";
import yauzl, { type Entry, type ZipFile } from "yauzl";
import { readAt, readDirectoryEnd } from "./directory-end.js";
import {
  type ArchiveEntry,
  type ArchiveLimits,
  checkCentralEntry,
  DEFAULT_LIMITS,
  EntrySet,
} from "./entry-checks.js";
import { checkLayout, type LocatedEntry } from "./layout.js";
import { inflateWhole } from "./zlib-pool.js";

export interface ArchiveReader {
  /** Every entry, in central-directory order, each already checked. */
  readonly entries: readonly ArchiveEntry[];
  /** The entry's bytes, decompressed; fails with a coded error if they differ from the declared size or CRC. */
  openEntry(entry: ArchiveEntry): Readable;
  /** A small entry's bytes at once (one read, inflated in one call, same checks); see WHOLE_LIMIT. */
  readWhole(entry: ArchiveEntry): Promise<Buffer>;
  close(): Promise<void>;
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

/** Inflates at most one byte more than declared, so a lying entry is caught without inflating further. */
async function inflateSmall(raw: Buffer, entry: ArchiveEntry): Promise<Buffer> {
  const result = await inflateWhole(raw, entry.size).catch((error: unknown) => {
    throw streamError(error, entry);
  });
  switch (result.kind) {
    case "ok":
      return result.data;
    case "overflow":
      throw sizeMismatch(entry, `more than the ${entry.size} bytes declared`);
    case "trailing":
      throw hiddenBytes(entry, result.unused);
  }
}

function hiddenBytes(entry: ArchiveEntry, unused: number): CustodyError {
  return new CustodyError(
    "ERR_ARCHIVE_MALFORMED",
    `${entry.name}: ${unused} hidden bytes after its compressed data`,
    {
      details: { path: entry.name },
    },
  );
}

/** Counts and CRCs the bytes as they pass: more than declared stops at once (a bomb inflates no further). */
class EntryCheck extends Transform {
  #size = 0;
  #crc = 0;
  /** Set for deflated entries: all of the compressed bytes must have been part of the deflate stream. */
  inflater: InflateRaw | undefined;

  constructor(private readonly entry: ArchiveEntry) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.entry.size) {
      done(sizeMismatch(this.entry, `more than the ${this.entry.size} bytes declared`));
      return;
    }
    this.#crc = crc32(chunk, this.#crc);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const unused = this.inflater === undefined ? 0 : this.entry.compressedSize - this.inflater.bytesWritten;
    if (unused > 0) {
      done(hiddenBytes(this.entry, unused));
    } else if (this.#size !== this.entry.size) {
      done(sizeMismatch(this.entry, `${this.#size} bytes, ${this.entry.size} declared`));
    } else if (this.#crc >>> 0 !== this.entry.crc32 >>> 0) {
      done(
        new CustodyError("ERR_INTEGRITY_MISMATCH", `${this.entry.name}: CRC-32 differs`, {
          details: { path: this.entry.name },
        }),
      );
    } else {
      done();
    }
  }
}

function sizeMismatch(entry: ArchiveEntry, what: string): CustodyError {
  return new CustodyError("ERR_ARCHIVE_SIZE_MISMATCH", `${entry.name} holds ${what}`, {
    details: { path: entry.name },
  });
}

function streamError(error: unknown, entry: ArchiveEntry): Error {
  if (error instanceof CustodyError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new CustodyError("ERR_ARCHIVE_MALFORMED", `${entry.name}: corrupt compressed data`, {
      cause: error,
      details: { path: entry.name },
    });
  }
  // A bug is not a property of the archive: only I/O failures become coded problems.
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code))
    return error instanceof Error ? error : new Error(String(error));
  return toCustodyError(error, "ERR_IO", `cannot read ${entry.name}`);
}

function readCentralDirectory(file: FileHandle, size: number): Promise<Entry[]> {
  // Names and sizes are checked by entry-checks.ts (with codes, and encryption before sizes) and entry
  // streams count their own bytes, so yauzl only parses the directory here.
  const options = {
    lazyEntries: true,
    autoClose: false,
    decodeStrings: false,
    validateEntrySizes: false,
    strictFileNames: true,
  };
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(new HandleReader(file), size, options, (error, zip: ZipFile) => {
      if (error) return reject(error);
      const entries: Entry[] = [];
      zip.on("entry", (entry: Entry) => {
        entries.push(entry);
        zip.readEntry();
      });
      zip.on("end", () => resolve(entries));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

/** yauzl reads through our file handle, so the archive is opened once and closed by us. */
class HandleReader extends yauzl.RandomAccessReader {
  constructor(private readonly file: FileHandle) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from(readRange(this.file, start, end, 64 * 1024));
  }

  // yauzl reads the directory with many small reads; a positional read each avoids a stream per read.
  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (error: Error | null) => void,
  ): void {
    readAt(this.file, position, length).then(
      (data) => {
        data.copy(buffer, offset);
        callback(null);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/**
 * Positional reads of [start, end). Node's file streams close the descriptor when destroyed even with
 * autoClose off, and the archive's one handle must outlive every entry stream.
 */
async function* readRange(
  file: FileHandle,
  start: number,
  end: number,
  chunkSize: number,
): AsyncGenerator<Buffer> {
  for (let position = start; position < end; ) {
    const length = Math.min(chunkSize, end - position);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await file.read(buffer, 0, length, position);
    if (bytesRead === 0)
      throw new CustodyError("ERR_ARCHIVE_MALFORMED", `unexpected end of file at ${position}`);
    position += bytesRead;
    yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }
}

/** yauzl reports with plain Errors; give the ones that matter their code. */
function mapYauzlError(error: unknown): unknown {
  if (error instanceof CustodyError || !(error instanceof Error)) return error;
  if (/encrypt/i.test(error.message))
    return new CustodyError("ERR_ARCHIVE_ENCRYPTED", error.message, { cause: error });
  if (/zip64|signature|overflow|EOF|extra field|multi-disk/i.test(error.message)) {
    return new CustodyError("ERR_ARCHIVE_MALFORMED", error.message, { cause: error });
  }
  return error;
}
