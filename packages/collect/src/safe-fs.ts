import { constants } from "node:fs";
import { type FileHandle, lstat, open, readFile, realpath } from "node:fs/promises";
import { sep } from "node:path";

// Filesystems that live on another machine: reading them would collect someone else's evidence and
// can hang on a dead server.
const REMOTE_FS = new Set([
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "smbfs",
  "ncpfs",
  "afs",
  "ceph",
  "glusterfs",
  "9p",
  "fuse.sshfs",
  "fuse.rclone",
  "davfs",
  "fuse.s3fs",
  "lustre",
]);

let remoteMounts: Promise<string[]> | undefined;

/** Mount points of network filesystems, from /proc/self/mountinfo (none when it cannot be read). */
export function remoteMountPoints(): Promise<string[]> {
  remoteMounts ??= readFile("/proc/self/mountinfo", "utf8").then(parseRemoteMounts, () => []);
  return remoteMounts;
}

export function parseRemoteMounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    const mountPoint = left?.split(" ")[4];
    const fsType = right?.split(" ")[0];
    if (mountPoint !== undefined && fsType !== undefined && REMOTE_FS.has(fsType)) {
      out.push(unescapeMount(mountPoint));
    }
  }
  return out;
}

function unescapeMount(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

export async function isOnRemoteFs(path: string): Promise<boolean> {
  return (await remoteMountPoints()).some((m) => m !== "/" && isUnder(path, m));
}

export type SafeOpen =
  | { kind: "open"; handle: FileHandle; realPath: string }
  | { kind: "absent" }
  | { kind: "refused"; code: string; reason: string };

/**
 * Opens a local regular file for reading without following a symlink out of `followWithin`,
 * without touching its access time where the kernel allows, and checks it was not swapped meanwhile.
 */
export async function openLocalFile(
  absPath: string,
  followWithin: readonly string[] = [],
): Promise<SafeOpen> {
  const first = await lstatOrCode(absPath);
  if (typeof first === "string") return first === "ENOENT" ? { kind: "absent" } : refusedBy(first);
  let realPath = absPath;
  if (first.isSymbolicLink()) {
    realPath = await realpath(absPath).catch(() => "");
    if (realPath === "") return { kind: "refused", code: "ERR_NOT_FOUND", reason: "dangling symlink" };
    if (!followWithin.some((root) => isUnder(realPath, root))) {
      return { kind: "refused", code: "ERR_UNSAFE_PATH", reason: `symlink to ${realPath} is out of scope` };
    }
  }
  const target = await lstatOrCode(realPath);
  if (typeof target === "string") return refusedBy(target);
  if (!target.isFile()) return { kind: "refused", code: "ERR_UNSAFE_PATH", reason: "not a regular file" };
  if (await isOnRemoteFs(realPath)) {
    return { kind: "refused", code: "ERR_UNSAFE_PATH", reason: "on a network filesystem" };
  }
  const handle = await openNoAtime(realPath);
  if (typeof handle === "string") return refusedBy(handle);
  const opened = await handle.stat();
  if (opened.ino !== target.ino || opened.dev !== target.dev) {
    await handle.close();
    return { kind: "refused", code: "ERR_CONFLICT", reason: "file was replaced while opening" };
  }
  return { kind: "open", handle, realPath };
}

// O_NOFOLLOW and O_NONBLOCK do not exist on Windows (undefined there): fall back to plain reads.
const BASE_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

async function openNoAtime(path: string): Promise<FileHandle | string> {
  try {
    return await open(path, BASE_FLAGS | (constants.O_NOATIME ?? 0));
  } catch (error) {
    // O_NOATIME is allowed only to the file's owner (or CAP_FOWNER): fall back to a plain read.
    if (errnoOf(error) !== "EPERM") return errnoOf(error);
  }
  try {
    return await open(path, BASE_FLAGS);
  } catch (error) {
    return errnoOf(error);
  }
}

async function lstatOrCode(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    return errnoOf(error);
  }
}

export function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

export function codeForErrno(errno: string): string {
  switch (errno) {
    case "ENOENT":
    case "ENOTDIR":
    case "ESRCH":
      return "ERR_NOT_FOUND";
    case "EACCES":
    case "EPERM":
      return "ERR_PERMISSION";
    default:
      return "ERR_IO";
  }
}

function refusedBy(errno: string): SafeOpen {
  return { kind: "refused", code: codeForErrno(errno), reason: errno };
}

/** Reads a small text file whole (for /proc and /etc files); undefined when absent or unreadable. */
export async function readSmallText(
  path: string,
  maxBytes = 4 * 1024 * 1024,
  followWithin: readonly string[] = [],
): Promise<string | undefined> {
  const opened = await openLocalFile(path, followWithin);
  if (opened.kind !== "open") return undefined;
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of opened.handle.createReadStream({ autoClose: false })) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= maxBytes) break;
    }
    return Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8");
  } catch {
    return undefined;
  } finally {
    await opened.handle.close();
  }
}
