import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
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

/**
 * `mkdir -p` that survives a power cut: each folder it creates is made durable in its parent (fsync of
 * the parent), so nothing acknowledged inside a new folder can vanish with the folder itself.
 */
export async function makeDirectoryDurable(path: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if ((await stat(dir).catch(notFound)) !== undefined || dirname(dir) === dir) break;
    missing.unshift(dir);
  }
  for (const dir of missing) {
    const created = await mkdir(dir, mode).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === "EEXIST") return false;
        throw error;
      },
    );
    if (created) await syncDirectory(dirname(dir));
  }
}

function notFound(error: NodeJS.ErrnoException): undefined {
  if (error.code === "ENOENT") return undefined;
  throw error;
}
