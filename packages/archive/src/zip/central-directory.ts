import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { CustodyError } from "@custody/core";
import yauzl, { type Entry, type ZipFile } from "yauzl";
import { readAt } from "./directory-end.js";

export function readCentralDirectory(file: FileHandle, size: number): Promise<Entry[]> {
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
export async function* readRange(
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
export function mapYauzlError(error: unknown): unknown {
  if (error instanceof CustodyError || !(error instanceof Error)) return error;
  if (/encrypt/i.test(error.message))
    return new CustodyError("ERR_ARCHIVE_ENCRYPTED", error.message, { cause: error });
  if (/zip64|signature|overflow|EOF|extra field|multi-disk/i.test(error.message)) {
    return new CustodyError("ERR_ARCHIVE_MALFORMED", error.message, { cause: error });
  }
  return error;
}
