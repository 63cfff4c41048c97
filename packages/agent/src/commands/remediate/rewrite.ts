import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chown, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CustodyError } from "@custody/core";

/** Config files with a persistence line are small; a larger one is not rewritten. */
const MAX_REWRITE_BYTES = 1024 * 1024;

function sha256(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Writes `bytes` beside `path` with `path`'s mode and owner, then renames it over `path` (atomic). */
export async function replaceFile(path: string, bytes: Buffer, mode: number, uid: number, gid: number) {
  const temp = join(dirname(path), `.${basename(path)}.custody-${randomBytes(6).toString("hex")}`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.writeFile(bytes);
    await handle.chmod(mode & 0o7777);
    if (process.getuid?.() === 0) await chown(temp, uid, gid);
    await handle.datasync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temp, path);
}

/**
 * Takes line `line` out of a file whose bytes were quarantined as `quarantined` (read again here: it
 * must still be those bytes). Returns the line's text and the file's digest afterwards.
 */
export async function replaceContent(path: string, line: number, quarantined: string) {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let bytes: Buffer;
  let stats: Awaited<ReturnType<typeof handle.stat>>;
  try {
    stats = await handle.stat();
    if (stats.size > MAX_REWRITE_BYTES)
      throw new CustodyError("ERR_SIZE_LIMIT", `${path} is over ${MAX_REWRITE_BYTES} bytes; not rewritten`);
    bytes = await handle.readFile();
  } finally {
    await handle.close();
  }
  if (sha256(bytes) !== quarantined)
    throw new CustodyError("ERR_FILE_CHANGED", `${path} changed after it was quarantined; not rewritten`);
  const lines = bytes.toString("utf8").split("\n");
  const count = lines.at(-1) === "" ? lines.length - 1 : lines.length;
  if (line > count)
    throw new CustodyError("ERR_REMEDIATION_REFUSED", `${path} has ${count} lines, not ${line}`, {
      details: { path, line },
    });
  const [removed] = lines.splice(line - 1, 1);
  const after = Buffer.from(lines.join("\n"), "utf8");
  await replaceFile(path, after, stats.mode, stats.uid, stats.gid);
  return { text: (removed ?? "").slice(0, 4096), afterSha256: sha256(after) };
}
