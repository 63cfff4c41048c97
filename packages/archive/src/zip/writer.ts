import { type FileHandle, open, unlink } from "node:fs/promises";
import { CustodyError } from "@custody/core";
import {
  type CentralRecord,
  dosDateTime,
  type EntrySizes,
  encodeCentralHeader,
  encodeDirectoryEnd,
  encodeLocalHeader,
  LOCAL_HEADER_SIZE,
  MAX16,
  needsZip64,
  writeLocalSizes,
} from "./format.js";
import { PatchableOutput } from "./output.js";

export interface ZipEntryStart {
  name: string;
  method: number;
  modifiedAt: Date;
  /** Give them when the data is already at hand: the header is then final at once. */
  sizes?: EntrySizes;
}

export interface ZipCheckpoint {
  position: number;
  entries: number;
}

interface OpenEntry {
  record: Omit<CentralRecord, keyof EntrySizes | "zip64">;
  header: Buffer;
  reserved: boolean;
  written: number;
}

/**
 * A small ZIP writer for entries whose bytes are already compressed: local headers without data
 * descriptors (sizes are patched in), UTF-8 names, ZIP64 only where a value needs it (or everywhere
 * with `forceZip64`). One entry at a time; the caller sequences them.
 */
export class ZipWriter {
  readonly path: string;
  #file: FileHandle;
  #out: PatchableOutput;
  #records: CentralRecord[] = [];
  #entry: OpenEntry | undefined;
  #forceZip64: boolean;
  #closed = false;

  private constructor(path: string, file: FileHandle, forceZip64: boolean) {
    this.path = path;
    this.#file = file;
    this.#out = new PatchableOutput(file);
    this.#forceZip64 = forceZip64;
  }

  /** Creates `path` exclusively (it must not exist). */
  static async create(path: string, options: { forceZip64?: boolean } = {}): Promise<ZipWriter> {
    const file = await open(path, "wx", 0o644);
    return new ZipWriter(path, file, options.forceZip64 ?? false);
  }

  get position(): number {
    return this.#out.position;
  }

  get entryCount(): number {
    return this.#records.length;
  }

  async beginEntry(start: ZipEntryStart): Promise<void> {
    if (this.#entry !== undefined) throw new Error("beginEntry while another entry is open");
    // Its own allocation: a small Buffer.from() is a view of a shared pool slab, and the central
    // record keeps this name until the end, which would pin a slab (and all it holds) per entry.
    const name = Buffer.allocUnsafeSlow(Buffer.byteLength(start.name, "utf8"));
    name.write(start.name, "utf8");
    if (name.length > MAX16) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `entry name is too long: ${start.name}`);
    }
    const { dosTime, dosDate } = dosDateTime(start.modifiedAt);
    const localHeaderOffset = this.#out.position;
    const header = encodeLocalHeader({
      name,
      method: start.method,
      dosTime,
      dosDate,
      sizes: start.sizes,
      forceZip64: this.#forceZip64,
      offset: localHeaderOffset,
    });
    await this.#out.write(header);
    const localExtraLength = header.length - LOCAL_HEADER_SIZE - name.length;
    const record = { name, localExtraLength, method: start.method, dosTime, dosDate, localHeaderOffset };
    this.#entry = { record, header, reserved: localExtraLength > 0, written: 0 };
  }

  async writeData(data: Buffer): Promise<void> {
    const entry = this.#requireEntry();
    await this.#out.write(data);
    entry.written += data.length;
  }

  /** Closes the open entry with its final CRC and sizes, patching its local header. */
  async endEntry(sizes: EntrySizes): Promise<void> {
    const entry = this.#requireEntry();
    if (sizes.compressedSize !== entry.written) throw new Error("compressed size differs from bytes written");
    const zip64 = this.#forceZip64 || needsZip64(sizes);
    if (zip64 && !entry.reserved) throw new Error("a ZIP64 entry needs its extra field reserved");
    writeLocalSizes(entry.header, entry.record.name.length, sizes, { zip64, reserved: entry.reserved });
    await this.#out.patch(entry.record.localHeaderOffset, entry.header);
    this.#records.push({ ...entry.record, ...sizes, zip64 });
    this.#entry = undefined;
  }

  /** Where the next entry starts; `rollback` to it forgets that entry. */
  checkpoint(): ZipCheckpoint {
    return { position: this.#out.position, entries: this.#records.length };
  }

  /** Forgets every entry begun after `checkpoint`, open or closed, and its bytes (its source failed). */
  rollback(checkpoint: ZipCheckpoint): void {
    this.#entry = undefined;
    this.#records.length = checkpoint.entries;
    this.#out.rewind(checkpoint.position);
  }

  /** Writes the central directory and end records, flushes to stable storage and closes. */
  async finish(): Promise<{ size: number }> {
    if (this.#entry !== undefined) throw new Error("finish while an entry is open");
    const centralDirectoryOffset = this.#out.position;
    for (const record of this.#records) await this.#out.write(encodeCentralHeader(record));
    const centralDirectorySize = this.#out.position - centralDirectoryOffset;
    const end = encodeDirectoryEnd({
      entryCount: this.#records.length,
      centralDirectoryOffset,
      centralDirectorySize,
      forceZip64: this.#forceZip64,
    });
    await this.#out.write(end);
    await this.#out.flush();
    // Abandoned entries may have left bytes past the end records.
    await this.#file.truncate(this.#out.position);
    await this.#file.sync();
    await this.#close();
    return { size: this.#out.position };
  }

  /** Closes and removes the file; safe to call after a failure or twice. */
  async discard(): Promise<void> {
    await this.#close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.close();
  }

  #requireEntry(): OpenEntry {
    if (this.#entry === undefined) throw new Error("no entry is open");
    return this.#entry;
  }
}
