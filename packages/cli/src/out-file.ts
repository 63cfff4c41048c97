import { type FileHandle, lstat, mkdir, open, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";

/**
 * Refuses an output file that already exists, before the command does anything else: custody never
 * overwrites, and a refusal after the work (a certificate issued, a read recorded) would leave a side
 * effect nobody can use. The final write still creates exclusively, so a file made meanwhile is refused too.
 */
export async function assertOutputAbsent(file: string, option = "--out"): Promise<void> {
  try {
    await lstat(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw toCustodyError(cause, "ERR_IO", `cannot check ${option} ${file}`);
  }
  throw new CustodyError(
    "ERR_ALREADY_EXISTS",
    `${option} ${file} already exists; custody never overwrites it (remove it or choose another name)`,
    { details: { path: file } },
  );
}

/** An output file created empty and exclusively before the work, filled once the work is done. */
export interface ReservedOutput {
  readonly file: string;
  /** Writes the content durably and closes the file. */
  fill(data: string | Uint8Array): Promise<void>;
  /** Removes the empty file: the work failed and nothing is written. */
  discard(): Promise<void>;
}

/**
 * Creates `file` (and its folder) empty with `mode` before the work it will hold is done, so a name
 * that exists or a folder that cannot be written is refused before any side effect.
 */
export async function reserveOutput(file: string, mode: number, option = "--out"): Promise<ReservedOutput> {
  await assertOutputAbsent(file, option);
  let handle: FileHandle;
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    handle = await open(file, "wx", mode);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot create ${option} ${file}`);
  }
  const close = () => handle.close().catch(() => {});
  return {
    file,
    async fill(data) {
      try {
        await handle.writeFile(data);
        await handle.sync();
      } catch (cause) {
        await close();
        await rm(file, { force: true });
        throw toCustodyError(cause, "ERR_IO", `cannot write ${option} ${file}`);
      }
      await handle.close();
    },
    async discard() {
      await close();
      await rm(file, { force: true });
    },
  };
}
