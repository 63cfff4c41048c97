import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";
import type { AuditSource } from "./sink.js";

/** File names inside a log directory. */
export const LOG_FILE = "audit.log";
export const LOCK_FILE = "audit.lock";
export const CHECKPOINT_DIR = "checkpoints";
export const TORN_DIR = "torn";

const CHECKPOINT_NAME = /^(\d{12})\.json$/;
export const READ_CHUNK = 1024 * 1024;

/** `000000001000.json`: zero-padded so a directory listing is in tree-size order. */
export function checkpointName(treeSize: number, extension: "json" | "p7s"): string {
  return `${String(treeSize).padStart(12, "0")}.${extension}`;
}

/** A log directory opened read-only: what `verifyAuditLog({ dir })` and proofs read. Takes no lock. */
export class FileAuditSource implements AuditSource {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = dir;
  }

  /** Fails with ERR_NOT_FOUND unless `dir` holds a log file. */
  async assertExists(): Promise<void> {
    try {
      await stat(join(this.dir, LOG_FILE));
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `no audit log in ${this.dir}`);
    }
  }

  /** The file `readBytes` reads, and where it stops (undefined: at its end): the verifier reads it directly. */
  readRange(): { path: string; end: number | undefined } {
    return { path: join(this.dir, LOG_FILE), end: undefined };
  }

  async *readBytes(
    options: { start?: number; end?: number; abortSignal?: AbortSignal } = {},
  ): AsyncIterable<Uint8Array> {
    if (options.end !== undefined && options.end <= (options.start ?? 0)) return;
    const stream = createReadStream(join(this.dir, LOG_FILE), {
      highWaterMark: READ_CHUNK,
      start: options.start ?? 0,
      ...(options.end === undefined ? {} : { end: options.end - 1 }),
      ...(options.abortSignal === undefined ? {} : { signal: options.abortSignal }),
    });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `cannot read ${this.description}`);
    }
  }

  async listCheckpoints(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, CHECKPOINT_DIR));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw toCustodyError(error, "ERR_IO", `cannot list checkpoints in ${this.dir}`);
    }
    const sizes: number[] = [];
    for (const name of names) {
      const match = CHECKPOINT_NAME.exec(name);
      if (match?.[1] !== undefined) sizes.push(Number(match[1]));
    }
    return sizes.sort((a, b) => a - b);
  }

  async readCheckpoint(treeSize: number): Promise<{ bytes: Buffer; signature: Buffer }> {
    if (!Number.isSafeInteger(treeSize) || treeSize < 0) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `not a tree size: ${treeSize}`);
    }
    const base = join(this.dir, CHECKPOINT_DIR);
    try {
      const bytes = await readSmall(join(base, checkpointName(treeSize, "json")));
      const signature = await readSmall(join(base, checkpointName(treeSize, "p7s")));
      return { bytes, signature };
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `cannot read checkpoint ${treeSize} in ${this.dir}`);
    }
  }
}

/** A checkpoint file is a few KB; a huge one is refused before it is read into memory. */
const MAX_CHECKPOINT_FILE = 1024 * 1024;

async function readSmall(path: string): Promise<Buffer> {
  const size = (await stat(path)).size;
  if (size > MAX_CHECKPOINT_FILE) {
    throw new CustodyError("ERR_SIZE_LIMIT", `${path} is ${size} bytes, too large for a checkpoint`);
  }
  return readFile(path);
}
