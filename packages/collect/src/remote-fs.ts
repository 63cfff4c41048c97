import { readFile } from "node:fs/promises";
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
