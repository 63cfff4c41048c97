import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { csvStream } from "../csv.js";
import { codeForErrno, errnoOf, isOnRemoteFs } from "../safe-fs.js";
import type { CollectContext, Collector } from "../types.js";
import { readAccounts, segment, usersWithHomes } from "./accounts.js";

export interface ListingRow {
  path: string;
  type: string;
  size: number;
  uid: number;
  owner: string;
  gid: number;
  mode: string;
  mtime: string;
  atime: string;
  ctime: string;
  birthtime: string;
  linkTarget: string;
}

const COLUMNS = [
  "path",
  "type",
  "size",
  "uid",
  "owner",
  "gid",
  "mode",
  "mtime",
  "atime",
  "ctime",
  "birthtime",
  "linkTarget",
] as const;
const SYSTEM_TEMP = [
  ["tmp", "/tmp"],
  ["var_tmp", "/var/tmp"],
  ["dev_shm", "/dev/shm"],
] as const;
const USER_TEMP = [".cache", "tmp", ".local/share/Trash"];

export const linuxTempDirectories: Collector = {
  name: "TempDirectories",
  platform: "linux",
  volatilityRank: 2,
  source:
    "listings (never contents) of /tmp, /var/tmp, /dev/shm and each user's ~/.cache, ~/tmp, trash: size, owner, mode, times",
  async collect(ctx) {
    const accounts = await readAccounts();
    const budget = { left: ctx.limits.maxListEntries };
    const owner = (uid: number) => accounts.userName(uid);
    for (const [name, root] of SYSTEM_TEMP) await listing(ctx, `${name}.csv`, root, owner, budget);
    for (const user of usersWithHomes(accounts)) {
      for (const dir of USER_TEMP) {
        await listing(
          ctx,
          `Users/${segment(user.user)}/${segment(dir)}.csv`,
          join(user.home, dir),
          owner,
          budget,
        );
      }
    }
  },
};

/** Writes a listing of `root` (never its contents) to `rel`; nothing when the folder is absent. */
export async function listing(
  ctx: CollectContext,
  rel: string,
  root: string,
  owner: (uid: number) => string,
  budget: { left: number },
): Promise<void> {
  const top = await lstat(root).catch(() => undefined);
  if (top === undefined || !top.isDirectory() || (await isOnRemoteFs(root))) return;
  await ctx.emit(rel, csvStream(COLUMNS, walk(ctx, root, top.dev, owner, budget)), { source: root });
}

/** Depth-first, sorted, never following symlinks and never leaving the root's filesystem (like find -xdev). */
async function* walk(
  ctx: CollectContext,
  root: string,
  dev: number,
  owner: (uid: number) => string,
  budget: { left: number },
): AsyncGenerator<ListingRow> {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (error) {
      ctx.problem(dir, codeForErrno(errnoOf(error)), errnoOf(error));
      continue;
    }
    const subdirs: string[] = [];
    for (const name of names) {
      if (ctx.abortSignal.aborted) return;
      if (budget.left-- <= 0) {
        ctx.problem(dir, "ERR_SIZE_LIMIT", `listing stopped after ${ctx.limits.maxListEntries} entries`);
        return;
      }
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) continue;
      const type = info.isDirectory()
        ? "dir"
        : info.isFile()
          ? "file"
          : info.isSymbolicLink()
            ? "symlink"
            : info.isFIFO()
              ? "fifo"
              : info.isSocket()
                ? "socket"
                : "other";
      yield {
        path,
        type,
        size: info.size,
        uid: info.uid,
        owner: owner(info.uid),
        gid: info.gid,
        mode: (info.mode & 0o7777).toString(8).padStart(4, "0"),
        mtime: info.mtime.toISOString(),
        atime: info.atime.toISOString(),
        ctime: info.ctime.toISOString(),
        birthtime: info.birthtimeMs > 0 ? info.birthtime.toISOString() : "",
        linkTarget: type === "symlink" ? await readlink(path).catch(() => "?") : "",
      };
      if (type === "dir" && info.dev === dev) subdirs.push(path);
    }
    stack.push(...subdirs.reverse());
  }
}
