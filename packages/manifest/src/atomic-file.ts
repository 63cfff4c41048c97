import { randomBytes } from "node:crypto";
import { link, open, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { toCustodyError } from "@custody/core";

/**
 * Replaces (or, with `exclusive`, creates) `file` so that a crash at any point leaves the old content or the
 * new, whole and durable: a temporary file in the same directory, fsynced, renamed (or linked) into place,
 * then the directory fsynced so the new name itself survives a power loss.
 */
export async function writeFileDurably(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; exclusive?: boolean } = {},
): Promise<void> {
  const dir = dirname(file);
  const temporary = join(dir, `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    // flush: the data is fsynced before writeFile resolves
    await writeFile(temporary, data, { mode: options.mode ?? 0o644, flag: "wx", flush: true });
    if (options.exclusive === true) await link(temporary, file);
    else await rename(temporary, file);
    await fsyncDirectory(dir);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot write ${file}`);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
