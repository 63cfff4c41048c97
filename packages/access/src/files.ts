import { randomBytes } from "node:crypto";
import { link, open, readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, makeDirectoryDurable, syncDirectory, toCustodyError } from "@custody/core";

/** Version files: `000001.json`, `000002.json`, ... (wider past 999999). */
const VERSION_FILE = /^(\d{6,})\.json$/;

/** A policy file larger than this is refused before it is read. */
export const MAX_POLICY_FILE_BYTES = 16 * 1024 * 1024;

/** Temp files this module writes: `.<version file>.<pid>.<random>.tmp`. */
const TEMP_FILE = /^\.\d{6,}\.json\.(\d+)\.[0-9a-f]+\.tmp$/;

/**
 * Removes temp files left by writers that died mid-write (their pid is gone). A live writer's temp
 * file is left alone: removing it would fail that writer's link.
 */
export async function removeDeadTempFiles(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = TEMP_FILE.exec(name)?.[1];
    if (pid !== undefined && !isAlive(Number(pid))) await unlink(join(dir, name)).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM";
  }
}

export function versionFileName(version: number): string {
  return `${String(version).padStart(6, "0")}.json`;
}

/** The version numbers present in `dir`, ascending. Temp files and other names are ignored. */
export async function listVersions(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read the policy directory ${dir}`);
  }
  const versions: number[] = [];
  for (const name of names) {
    const match = VERSION_FILE.exec(name);
    if (match?.[1] !== undefined) versions.push(Number(match[1]));
  }
  return versions.sort((a, b) => a - b);
}

export async function readVersionFile(dir: string, version: number): Promise<Buffer> {
  const path = join(dir, versionFileName(version));
  try {
    const info = await stat(path);
    if (info.size > MAX_POLICY_FILE_BYTES) {
      throw new CustodyError("ERR_POLICY_INVALID", `${path} is larger than ${MAX_POLICY_FILE_BYTES} bytes`, {
        details: { path, size: info.size },
      });
    }
    return await readFile(path);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read policy version ${version}`);
  }
}

/**
 * Writes a version file so that it appears whole or not at all, and never replaces one: the bytes go
 * to a temp file, are fsynced, then hard-linked to the final name (link fails if the name exists,
 * where rename would overwrite a concurrent writer's version), and the directory is fsynced.
 * Throws ERR_CONFLICT when the version already exists.
 */
export async function writeVersionFile(dir: string, version: number, bytes: Uint8Array): Promise<void> {
  const name = versionFileName(version);
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeAndSync(temp, bytes);
    await link(temp, join(dir, name));
  } catch (cause) {
    if ((cause as { code?: unknown }).code === "EEXIST") {
      throw new CustodyError("ERR_CONFLICT", `policy version ${version} was written by someone else first`, {
        cause,
        details: { version },
      });
    }
    throw toCustodyError(cause, "ERR_IO", `cannot write policy version ${version}`);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dir);
}

async function writeAndSync(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, "wx", 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function ensureDirectory(dir: string): Promise<void> {
  try {
    // Durable in its parent: a version acknowledged in a new folder must not vanish with the folder.
    await makeDirectoryDurable(dir, 0o755);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot create the policy directory ${dir}`);
  }
}
