import type { Stats } from "node:fs";
import { join } from "node:path";
import { csvStream } from "../csv.js";
import { codeForErrno, errnoOf, SafeDir } from "../safe-fs.js";
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
    const accounts = await readAccounts(ctx);
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
          user.home,
        );
      }
    }
  },
};

/**
 * Writes a listing of `root` (never its contents) to `rel`; nothing when the folder is absent. `scope`
 * is the trusted folder the walk starts from (a user's home): a symlink below it is refused, recorded.
 */
export async function listing(
  ctx: CollectContext,
  rel: string,
  root: string,
  owner: (uid: number) => string,
  budget: { left: number },
  scope = root,
): Promise<void> {
  const top = await ctx.fs.openDir(root, { scope });
  if (!(top instanceof SafeDir)) return;
  await ctx.emit(rel, csvStream(COLUMNS, walk(ctx, { dir: top, path: root }, owner, budget)), {
    source: root,
  });
}

/** An opened folder waiting to be listed, and the path it is listed under. */
interface Pending {
  dir: SafeDir;
  path: string;
}

/** A sub-folder still to be opened inside its parent; `last` closes the parent once opened. */
interface Child {
  parent: SafeDir;
  name: string;
  path: string;
  last: boolean;
}

/**
 * Depth-first, sorted, never leaving the root's filesystem (like find -xdev). Each sub-folder is opened
 * inside the folder already open, so one swapped for a symlink meanwhile is refused, never followed.
 */
async function* walk(
  ctx: CollectContext,
  top: Pending,
  owner: (uid: number) => string,
  budget: { left: number },
): AsyncGenerator<ListingRow> {
  const stack: (Pending | Child)[] = [top];
  try {
    while (stack.length > 0) {
      const next = stack.pop() as (typeof stack)[number];
      const pending = "dir" in next ? next : await openPending(ctx, next, top.dir.dev);
      if (pending === undefined) continue;
      let subdirs: string[] | undefined;
      try {
        subdirs = yield* rows(ctx, pending, owner, budget);
      } finally {
        if (subdirs === undefined || subdirs.length === 0) await pending.dir.close();
      }
      if (subdirs === undefined) return;
      // The last child to be opened closes its parent: open folders stay one per level.
      for (const [i, name] of subdirs.entries())
        stack.push({ parent: pending.dir, name, path: join(pending.path, name), last: i === 0 });
    }
  } finally {
    for (const left of stack) await ("dir" in left ? left.dir : left.last ? left.parent : undefined)?.close();
  }
}

async function openPending(ctx: CollectContext, item: Child, dev: number): Promise<Pending | undefined> {
  const opened = await item.parent.openDir(item.name);
  if (item.last) await item.parent.close();
  if (!(opened instanceof SafeDir)) {
    if (opened.kind === "refused") ctx.problem(item.path, opened.code, opened.reason);
    return undefined;
  }
  // Mounted elsewhere since it was listed: not entered, like find -xdev.
  if (opened.dev !== dev) {
    await opened.close();
    return undefined;
  }
  return { dir: opened, path: item.path };
}

// Entries stat'ed between two turns of the event loop (so a timeout or abort still cuts the listing).
const STAT_BATCH = 256;

/** Yields one folder's rows; resolves to its sub-folders in reverse order, or undefined to stop. */
async function* rows(
  ctx: CollectContext,
  { dir, path }: Pending,
  owner: (uid: number) => string,
  budget: { left: number },
): AsyncGenerator<ListingRow, string[] | undefined> {
  let names: string[];
  try {
    names = (await dir.list()).sort();
  } catch (error) {
    ctx.problem(path, codeForErrno(errnoOf(error)), errnoOf(error));
    return [];
  }
  const subdirs: string[] = [];
  for (let at = 0; at < names.length; at += STAT_BATCH) {
    if (ctx.abortSignal.aborted) return undefined;
    const batch = names.slice(at, at + Math.min(STAT_BATCH, Math.max(budget.left, 0)));
    budget.left -= batch.length;
    if (at > 0) await new Promise(setImmediate);
    for (const name of batch) {
      const entry = await statEntry(dir, name);
      if (entry === undefined) continue;
      yield row(join(path, entry.name), entry, owner);
      if (entry.type === "dir" && entry.info.dev === dir.dev) subdirs.push(entry.name);
    }
    if (batch.length < Math.min(STAT_BATCH, names.length - at)) {
      ctx.problem(path, "ERR_SIZE_LIMIT", `listing stopped after ${ctx.limits.maxListEntries} entries`);
      return undefined;
    }
  }
  return subdirs.reverse();
}

interface Entry {
  name: string;
  info: Stats;
  type: string;
  linkTarget: string;
}

async function statEntry(dir: SafeDir, name: string): Promise<Entry | undefined> {
  let info: Stats | undefined;
  try {
    info = dir.lstatNow(name);
  } catch {
    return undefined; // removed or unreadable between the listing and the stat, as with find
  }
  if (info === undefined) return undefined;
  const type = typeOf(info);
  const linkTarget = type === "symlink" ? await dir.readlink(name).catch(() => "?") : "";
  return { name, info, type, linkTarget };
}

function row(path: string, { info, type, linkTarget }: Entry, owner: (uid: number) => string): ListingRow {
  return {
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
    linkTarget,
  };
}

function typeOf(info: Stats): string {
  if (info.isDirectory()) return "dir";
  if (info.isFile()) return "file";
  if (info.isSymbolicLink()) return "symlink";
  if (info.isFIFO()) return "fifo";
  if (info.isSocket()) return "socket";
  return "other";
}
