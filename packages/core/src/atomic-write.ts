import { randomBytes } from "node:crypto";
import { link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { toCustodyError } from "./errors.js";

export interface AtomicWriteOptions {
  mode?: number;
  /** Create only: an existing file is never replaced (ERR_ALREADY_EXISTS). */
  exclusive?: boolean;
}

/**
 * Replaces (or, with `exclusive`, creates) `path` with `data` so that a crash at any moment leaves either
 * the old file or the new one, whole: the bytes go to a temp file beside it, are fsynced, renamed over the
 * target (linked to it when exclusive), and the directory is fsynced so the new name survives a power cut.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let placed = false;
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.chmod(options.mode ?? 0o644);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.exclusive === true) {
      await link(temp, path);
      await unlink(temp);
    } else await rename(temp, path);
    placed = true;
    await syncDirectory(dirname(path));
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot write ${path}`);
  } finally {
    if (!placed) await unlink(temp).catch(() => undefined);
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
