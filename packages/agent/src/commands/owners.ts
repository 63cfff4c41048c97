import type { Stats } from "node:fs";
import { readFile } from "node:fs/promises";

/** uid and gid to names, read once per command from /etc/passwd and /etc/group. */
export interface Owners {
  user(uid: number): string;
  group(gid: number): string;
}

async function readSmall(path: string): Promise<string> {
  return readFile(path, "utf8").catch(() => "");
}

export async function loadOwners(): Promise<Owners> {
  // Loaded on first use: an idle agent does not carry the collectors (docs/benchmarks.md § agent).
  const { parseGroup, parsePasswd } = await import("@custody/collect");
  const users = new Map(parsePasswd(await readSmall("/etc/passwd")).map((e) => [e.uid, e.user]));
  const groups = new Map(parseGroup(await readSmall("/etc/group")).map((e) => [e.gid, e.group]));
  return {
    user: (uid) => users.get(uid) ?? String(uid),
    group: (gid) => groups.get(gid) ?? String(gid),
  };
}

const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

function permissions(mode: number): string {
  const bits = "rwxrwxrwx";
  let text = "";
  for (let i = 0; i < 9; i++) text += mode & (0o400 >> i) ? bits[i] : "-";
  return text;
}

/** The metadata every listing and fileinfo reports for one lstat or fstat. */
export function statFields(stats: Stats, owners: Owners): Record<string, unknown> {
  return {
    size: stats.size,
    mode: (stats.mode & 0o7777).toString(8).padStart(4, "0"),
    permissions: permissions(stats.mode),
    uid: stats.uid,
    gid: stats.gid,
    owner: owners.user(stats.uid),
    group: owners.group(stats.gid),
    dev: stats.dev,
    ino: stats.ino,
    nlink: stats.nlink,
    atime: iso(stats.atimeMs),
    mtime: iso(stats.mtimeMs),
    ctime: iso(stats.ctimeMs),
    btime: iso(stats.birthtimeMs),
  };
}
