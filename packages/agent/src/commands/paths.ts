import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, realpath, stat } from "node:fs/promises";
import { basename, dirname, posix } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";
import type { AgentPolicy } from "../policy-types.js";

// Kernel views of another process's memory, or of all memory: never read, whatever the policy says.
const MEMORY_PATHS = [
  /^\/proc\/[^/]+\/(task\/[^/]+\/)?(mem|pagemap)$/,
  /^\/proc\/kcore$/,
  /^\/dev\/(mem|kmem|port)$/,
];

function unsafe(reason: string, message: string, path: string): CustodyError {
  return new CustodyError("ERR_UNSAFE_PATH", message, { details: { reason, path } });
}

/**
 * Resolves what the analyst typed: absolute as given, relative against the session's directory only
 * (never the agent's own working directory), `.` and `..` normalized.
 */
export function resolvePath(input: string, cwd: string | null): string {
  if (input === "") throw new CustodyError("ERR_INVALID_ARGUMENT", "an empty path");
  if (input.includes("\0")) throw unsafe("nul", "a path with a NUL byte", input);
  if (posix.isAbsolute(input)) return posix.resolve(input);
  // A relative session directory would resolve against the agent's own working directory.
  if (cwd !== null && !posix.isAbsolute(cwd))
    throw unsafe("relative-cwd", `the session directory ${cwd} is not absolute`, cwd);
  if (cwd === null)
    throw unsafe(
      "relative",
      `${input} is relative and the session has no directory yet: cd first or give an absolute path`,
      input,
    );
  return posix.resolve(cwd, input);
}

function isDenied(path: string, policy: AgentPolicy): string | undefined {
  return policy.paths.deny.find(
    (denied) => path === denied || path.startsWith(denied.endsWith("/") ? denied : `${denied}/`),
  );
}

function checkLexical(path: string, policy: AgentPolicy): void {
  const denied = isDenied(path, policy);
  if (denied !== undefined)
    throw new CustodyError(
      "ERR_AGENT_POLICY",
      `${path} is never read on this device (local policy: ${denied})`,
      { details: { path, denied } },
    );
  if (MEMORY_PATHS.some((pattern) => pattern.test(path)))
    throw unsafe("memory", `${path} is process or kernel memory and is never read`, path);
}

/** The path with its parent's symlinks resolved (the last component kept as is, so a symlink stays one). */
async function realParent(path: string): Promise<string> {
  if (path === "/") return path;
  try {
    return posix.join(await realpath(dirname(path)), basename(path));
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot resolve ${dirname(path)}`);
  }
}

/**
 * Resolves and checks a path before anything touches it: the policy's deny list and memory paths are
 * checked on the path as typed and again with its directories' symlinks resolved (`/proc/self/root/etc/shadow`).
 */
export async function checkedPath(input: string, cwd: string | null, policy: AgentPolicy): Promise<string> {
  const path = resolvePath(input, cwd);
  checkLexical(path, policy);
  const real = await realParent(path);
  if (real !== path) checkLexical(real, policy);
  return path;
}

/** Refuses a hard link (or bind mount) to a denied file: the same inode under another name. */
async function checkDeniedInode(stats: Stats, path: string, policy: AgentPolicy): Promise<void> {
  for (const denied of policy.paths.deny) {
    const other = await stat(denied).catch(() => undefined);
    if (other !== undefined && other.dev === stats.dev && other.ino === stats.ino)
      throw new CustodyError(
        "ERR_AGENT_POLICY",
        `${path} is the same file as ${denied}, which is never read`,
        { details: { path, denied } },
      );
  }
}

export function fileType(stats: Stats): string {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "directory";
  if (stats.isSymbolicLink()) return "symlink";
  if (stats.isFIFO()) return "fifo";
  if (stats.isSocket()) return "socket";
  if (stats.isCharacterDevice()) return "char-device";
  if (stats.isBlockDevice()) return "block-device";
  return "unknown";
}

export async function lstatChecked(path: string): Promise<Stats> {
  try {
    return await lstat(path);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot stat ${path}`);
  }
}

/**
 * Opens a regular file for reading without following a symlink and without blocking on a FIFO; the
 * opened file must be the one lstat saw (no swap in between) and not a denied file under another name.
 */
export async function openRegular(
  path: string,
  policy: AgentPolicy,
): Promise<{ handle: FileHandle; stats: Stats }> {
  const before = await lstatChecked(path);
  const type = fileType(before);
  if (type === "symlink") throw unsafe("symlink", `${path} is a symlink; it is reported, not followed`, path);
  if (type !== "file") throw unsafe("special", `${path} is a ${type}, not a regular file`, path);
  let handle: FileHandle;
  try {
    handle = await open(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot open ${path}`);
  }
  try {
    const stats = await handle.stat();
    if (stats.dev !== before.dev || stats.ino !== before.ino || !stats.isFile())
      throw unsafe("replaced", `${path} was replaced while it was opened`, path);
    await checkDeniedInode(stats, path, policy);
    return { handle, stats };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
