import { isUtf8 } from "node:buffer";
import { constants, write, writeSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, makeDirectoryDurable, syncDirectory, toCustodyError } from "@custody/core";
import { createWhole } from "./durable.js";
import {
  CHECKPOINT_DIR,
  checkpointName,
  FileAuditSource,
  LOCK_FILE,
  LOG_FILE,
  TORN_DIR,
} from "./file-source.js";
import { MAX_LINE_BYTES } from "./lines.js";
import { acquireLock, type DirLock } from "./lock.js";
import { parseRecordLine } from "./record.js";
import type { AuditSink, SinkRecovery } from "./sink.js";

const TAIL_SCAN = 64 * 1024;
/** A torn tail is at most one batch; anything bigger is not a crash and is left for a person to look at. */
const MAX_TORN_BYTES = 64 * 1024 * 1024;
// O_DSYNC: each write returns only once its data (and the size needed to read it) is on disk, which is
// fdatasync's guarantee in one system call instead of two.
const LOG_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

/**
 * Where the file sink's appends are written: `false`, through libuv's thread pool; `true`, in the calling
 * thread (the event loop waits for each sync: a CLI command's process); `"when-alone"`, in the calling
 * thread only for a batch of one record with nothing else queued while the disk's writes are fast, through
 * the thread pool otherwise (a server: see the log's `flush`).
 */
export type BlockingWrites = boolean | "when-alone";

/** The file sink: a log directory with one writer at a time, held by an exclusive lock file. */
export class FileAuditSink extends FileAuditSource implements AuditSink {
  readonly recoveries: SinkRecovery[] = [];
  #size = 0;
  #failure: CustodyError | undefined;
  #closed = false;
  /** Present when opened with `blockingWrites`: the log then writes without a promise per write. */
  readonly appendSync: ((lines: Buffer) => void) | undefined;
  readonly appendSyncFor: "every-batch" | "lone-record" | undefined;

  private constructor(
    dir: string,
    private readonly handle: FileHandle,
    private readonly lock: DirLock,
    blocking: BlockingWrites,
  ) {
    super(dir);
    this.appendSync = blocking === false ? undefined : (lines) => this.writeNow(lines);
    this.appendSyncFor = blocking === false ? undefined : blocking === true ? "every-batch" : "lone-record";
  }

  /** Creates the directory if needed, takes the lock (ERR_AUDIT_LOCKED), repairs what a crash left. */
  static async open(dir: string, options: { blockingWrites?: BlockingWrites } = {}): Promise<FileAuditSink> {
    await makeDirectoryDurable(join(dir, CHECKPOINT_DIR)).catch((error: unknown) => {
      throw toCustodyError(error, "ERR_IO", `cannot create audit log directory ${dir}`);
    });
    const lock = await acquireLock(join(dir, LOCK_FILE));
    let handle: FileHandle | undefined;
    try {
      handle = await open(join(dir, LOG_FILE), LOG_FLAGS, 0o600);
      await syncDirectory(dir);
      const sink = new FileAuditSink(dir, handle, lock, options.blockingWrites ?? false);
      await sink.recover();
      return sink;
    } catch (error) {
      await handle?.close().catch(() => {});
      await lock.release().catch(() => {});
      throw toCustodyError(error, "ERR_IO", `cannot open audit log ${dir}`);
    }
  }

  get size(): number {
    return this.#size;
  }

  override readRange(): { path: string; end: number | undefined } {
    return { ...super.readRange(), end: this.#size };
  }

  override readBytes(options: { end?: number; abortSignal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    return super.readBytes({ ...options, end: Math.min(options.end ?? this.#size, this.#size) });
  }

  readBytesFrom(start: number, end = this.#size): AsyncIterable<Uint8Array> {
    return super.readBytes({ start, end: Math.min(end, this.#size) });
  }

  append(lines: Buffer): Promise<void> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.appendSyncFor === "every-batch") return this.appendBlocking(lines);
    // fs.write with a callback, not the FileHandle's promise-based write (~28 us of overhead per call
    // against ~7 us, measured); one promise for the whole write, no async frame per append.
    return new Promise((resolve, reject) => {
      const from = (offset: number): void => {
        write(this.handle.fd, lines, offset, lines.length - offset, null, (error, written) => {
          if (error !== null) reject(this.failed(error));
          else if (offset + written < lines.length) from(offset + written);
          else {
            this.#size += lines.length;
            resolve();
          }
        });
      };
      from(0);
    });
  }

  private appendBlocking(lines: Buffer): Promise<void> {
    try {
      this.writeNow(lines);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes in the calling thread; O_DSYNC: durable when it returns. */
  private writeNow(lines: Buffer): void {
    this.assertUsable();
    try {
      let written = 0;
      while (written < lines.length) written += writeSync(this.handle.fd, lines, written);
    } catch (error) {
      throw this.failed(error);
    }
    this.#size += lines.length;
  }

  private failed(error: unknown): CustodyError {
    this.#failure = toCustodyError(error, "ERR_IO", `audit append to ${this.dir} failed`);
    return this.#failure;
  }

  async writeCheckpoint(treeSize: number, bytes: Buffer, signature: Buffer): Promise<void> {
    this.assertUsable();
    const base = join(this.dir, CHECKPOINT_DIR);
    try {
      // Signature first: a body on disk always has its signature, so a crash leaves only an orphan .p7s.
      await createWhole(join(base, checkpointName(treeSize, "p7s")), signature);
      await createWhole(join(base, checkpointName(treeSize, "json")), bytes);
      await syncDirectory(base);
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `cannot store checkpoint ${treeSize} in ${this.dir}`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.handle.close();
    await this.lock.release();
  }

  private assertUsable(): void {
    if (this.#closed) throw new CustodyError("ERR_INVALID_ARGUMENT", `audit log ${this.dir} is closed`);
    if (this.#failure !== undefined) throw this.#failure;
  }

  private async recover(): Promise<void> {
    const size = (await this.handle.stat()).size;
    const end = await lastNewlineEnd(this.handle, size);
    this.#size = end;
    if (end < size && !(await this.completeLastLine(end, size))) await this.cutTornTail(end, size);
    await this.setAsideIncompleteCheckpoints();
  }

  /**
   * A tail that is a whole record, short only of its newline, is kept and completed: cutting it would
   * drop a valid record (and make the log shorter than a checkpoint that may cover it).
   */
  private async completeLastLine(end: number, size: number): Promise<boolean> {
    if (size - end > MAX_LINE_BYTES) return false;
    const tail = Buffer.alloc(size - end);
    await this.handle.read(tail, 0, tail.length, end);
    if (!isUtf8(tail) || "problem" in parseRecordLine(tail.toString("utf8"))) return false;
    await this.handle.write(Buffer.from("\n"));
    this.#size = size + 1;
    this.recoveries.push({ kind: "completed-line", offset: end, bytes: tail.length });
    return true;
  }

  private async cutTornTail(end: number, size: number): Promise<void> {
    if (size - end > MAX_TORN_BYTES) {
      throw new CustodyError(
        "ERR_AUDIT_RECORD_INVALID",
        `${this.dir}: ${size - end} bytes after the last record are too many to be a torn write; not repairing`,
        { details: { offset: end, bytes: size - end } },
      );
    }
    const torn = Buffer.alloc(size - end);
    await this.handle.read(torn, 0, torn.length, end);
    const keptAt = await this.keepAside(`${stamp()}-${end}.bin`, torn);
    // Kept aside durably before cutting, so a crash in between repeats the repair instead of losing bytes.
    await this.handle.truncate(end);
    await this.handle.sync();
    this.recoveries.push({ kind: "torn-tail", tornBytes: torn.length, keptAt, offset: end });
  }

  private async setAsideIncompleteCheckpoints(): Promise<void> {
    const base = join(this.dir, CHECKPOINT_DIR);
    const names = new Set(await readdir(base));
    for (const name of names) {
      const match = /^(\d{12})\.(json|p7s)(\..*\.tmp)?$/.exec(name);
      if (match?.[1] === undefined) continue;
      const other = `${match[1]}.${match[2] === "json" ? "p7s" : "json"}`;
      if (match[3] === undefined && names.has(other)) continue;
      await mkdir(join(this.dir, TORN_DIR), { recursive: true });
      const keptAt = join(TORN_DIR, `${stamp()}-checkpoint-${name}`);
      await rename(join(base, name), join(this.dir, keptAt));
      await syncDirectory(base);
      this.recoveries.push({ kind: "incomplete-checkpoint", treeSize: Number(match[1]), keptAt });
    }
  }

  private async keepAside(name: string, bytes: Buffer): Promise<string> {
    await mkdir(join(this.dir, TORN_DIR), { recursive: true });
    const keptAt = join(TORN_DIR, name);
    await writeFile(join(this.dir, keptAt), bytes, { flag: "wx", flush: true, mode: 0o600 });
    await syncDirectory(join(this.dir, TORN_DIR));
    await syncDirectory(this.dir);
    return keptAt;
  }
}

/** Length of the log up to and including its last newline (0 when it has none). */
async function lastNewlineEnd(handle: FileHandle, size: number): Promise<number> {
  const buffer = Buffer.alloc(TAIL_SCAN);
  let stop = size;
  while (stop > 0) {
    const start = Math.max(0, stop - TAIL_SCAN);
    const { bytesRead } = await handle.read(buffer, 0, stop - start, start);
    const index = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (index >= 0) return start + index + 1;
    if (size - start > MAX_TORN_BYTES) return start;
    stop = start;
  }
  return 0;
}

function stamp(): string {
  return new Date().toISOString().replaceAll(":", "-");
}
