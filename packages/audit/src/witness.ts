import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, syncDirectory, toCustodyError } from "@custody/core";
import { createWhole } from "./durable.js";
import { checkpointName } from "./file-source.js";

/**
 * A copy of every checkpoint kept where the log's own writer cannot rewrite it (another disk, a share,
 * a container). At open the log must still contain the witness's latest checkpoint, so a log cut back
 * together with its newest checkpoints is refused.
 */
export interface CheckpointWitness {
  /** A name for messages. */
  readonly description: string;
  /** Stores one checkpoint durably and create-only. */
  write(treeSize: number, bytes: Buffer, signature: Buffer): Promise<void>;
  /** The newest checkpoint held, or undefined when none is. */
  readLatest(): Promise<{ bytes: Buffer; signature: Buffer } | undefined>;
}

const NAME = /^(\d{12})\.json$/;
/** A checkpoint is a few KB; a huge file is refused before it is read. */
const MAX_FILE = 1024 * 1024;

/**
 * A witness in a directory, with the sink's file names (`000000001000.json` and `.p7s`). The directory
 * must exist: a missing witness (an unmounted share) is an error, never silently recreated.
 */
export class DirectoryCheckpointWitness implements CheckpointWitness {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `checkpoint witness ${dir}`;
  }

  async write(treeSize: number, bytes: Buffer, signature: Buffer): Promise<void> {
    try {
      // Signature first, as in the sink: a body always has its signature.
      await createOrSame(join(this.dir, checkpointName(treeSize, "p7s")), signature);
      await createOrSame(join(this.dir, checkpointName(treeSize, "json")), bytes);
      await syncDirectory(this.dir);
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `cannot write checkpoint ${treeSize} to ${this.description}`);
    }
  }

  async readLatest(): Promise<{ bytes: Buffer; signature: Buffer } | undefined> {
    try {
      const sizes = (await readdir(this.dir)).flatMap((name) => NAME.exec(name)?.[1] ?? []).map(Number);
      const latest = Math.max(-1, ...sizes);
      if (latest < 0) return undefined;
      const bytes = await readSmall(join(this.dir, checkpointName(latest, "json")));
      const signature = await readSmall(join(this.dir, checkpointName(latest, "p7s")));
      return { bytes, signature };
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `cannot read ${this.description}`);
    }
  }
}

/** Create-only, except that the same bytes again (a retried write) are not an error. */
async function createOrSame(path: string, bytes: Buffer): Promise<void> {
  try {
    await createWhole(path, bytes);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    if ((await readSmall(path)).equals(bytes)) return;
    throw new CustodyError("ERR_ALREADY_EXISTS", `${path} exists with other content`, { cause: error });
  }
}

async function readSmall(path: string): Promise<Buffer> {
  const size = (await stat(path)).size;
  if (size > MAX_FILE) {
    throw new CustodyError("ERR_SIZE_LIMIT", `${path} is ${size} bytes, too large for a checkpoint`);
  }
  return readFile(path);
}
