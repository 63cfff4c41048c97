import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { toCustodyError } from "./errors.js";

export interface AtomicWriteOptions {
  mode?: number;
}

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the old file or the new one,
 * whole: the bytes go to a temp file beside it, are fsynced, renamed over the target, and the directory
 * is fsynced so the rename itself survives a power cut.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.chmod(options.mode ?? 0o644);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(dirname(path));
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    throw toCustodyError(cause, "ERR_IO", `cannot write ${path}`);
  }
}

/** Makes a directory's entries (a rename, a new file) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
