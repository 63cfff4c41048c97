import type { Stats } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { csvLine } from "../csv.js";
import { codeForErrno, errnoOf, SafeDir } from "../safe-fs.js";
import type { CollectContext, Collector } from "../types.js";
import { readAccounts, segment, usersWithHomes } from "./accounts.js";
import { CHUNK_BYTES, Chunks } from "./csv-chunks.js";
import { RowFormat } from "./row-format.js";

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
  try {
    // Chunks handed on one by one: a byte-mode stream would copy what is waiting into one buffer per read.
    const csv = Readable.from(walk(ctx, top, root, new RowFormat(owner), budget), {
      objectMode: true,
      highWaterMark: AHEAD_BYTES / CHUNK_BYTES,
    });
    await ctx.emit(rel, csv, { source: root });
  } finally {
    await top.close();
  }
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

// Entries listed between two turns of the event loop (so a timeout or abort still cuts the listing).
const TURN_EVERY = 1024;
// How far the walk may run ahead of the sink (whose writes wait on the thread pool meanwhile).
const AHEAD_BYTES = 16 * CHUNK_BYTES;

/**
 * The listing as CSV, depth-first, sorted, never leaving the root's filesystem (like find -xdev).
 * Each sub-folder is opened inside the folder already open, so one swapped for a symlink meanwhile is
 * refused, never followed. Folders are read, stat'ed (through the folder's descriptor) and formatted
 * synchronously (`listSome`), a turn of the event loop every TURN_EVERY entries: per entry, no promise,
 * no thread-pool round trip, no row object. The process's working folder never moves: a worker thread or
 * a queued file operation with a relative path (a package being written) would resolve it elsewhere.
 */
async function* walk(
  ctx: CollectContext,
  top: SafeDir,
  root: string,
  format: RowFormat,
  budget: { left: number },
): AsyncGenerator<Buffer> {
  const chunks = new Chunks();
  chunks.add(csvLine(COLUMNS));
  let sinceTurn = 0;
  const stack: (Pending | Child)[] = [{ dir: top, path: root }];
  // The top folder is the caller's to close; the sub-folders opened here are closed here.
  const closeNow = (dir: SafeDir): void => {
    if (dir !== top) dir.closeNow();
  };
  try {
    while (stack.length > 0) {
      const next = stack.pop() as (typeof stack)[number];
      const pending = "dir" in next ? next : openChild(ctx, next, top.dev, closeNow);
      if (pending === undefined) continue;
      const { dir, path } = pending;
      let names: string[];
      try {
        names = dir.listNow().sort();
      } catch (error) {
        ctx.problem(path, codeForErrno(errnoOf(error)), errnoOf(error));
        names = [];
      }
      const prefix = join(path, "x").slice(0, -1);
      const folder: Folder = {
        dir,
        names,
        prefix,
        prefixBytes: format.prefixBytes(prefix),
        next: 0,
        subdirs: [],
      };
      let stopped = false;
      while (folder.next < names.length) {
        if (sinceTurn >= TURN_EVERY) {
          sinceTurn = 0;
          await new Promise(setImmediate);
        }
        if (ctx.abortSignal.aborted) {
          stopped = true;
          break;
        }
        if (budget.left <= 0) {
          ctx.problem(path, "ERR_SIZE_LIMIT", `listing stopped after ${ctx.limits.maxListEntries} entries`);
          stopped = true;
          break;
        }
        const from = folder.next;
        const until = Math.min(names.length, from + TURN_EVERY - sinceTurn, from + budget.left);
        const ready: Buffer[] = [];
        listSome(folder, until, format, chunks, ready);
        budget.left -= folder.next - from;
        sinceTurn += folder.next - from;
        yield* ready;
      }
      const { subdirs } = folder;
      if (stopped || subdirs.length === 0) closeNow(dir);
      if (stopped) break;
      // Sorted order, first on top of the stack; the last child to be opened closes its parent, so
      // open folders stay one per level.
      for (let i = subdirs.length - 1; i >= 0; i--) {
        const name = subdirs[i] as string;
        stack.push({ parent: dir, name, path: prefix + name, last: i === subdirs.length - 1 });
      }
    }
    const rest = chunks.take();
    if (rest !== undefined) yield rest;
  } finally {
    for (const left of stack) {
      if ("dir" in left) closeNow(left.dir);
      else if (left.last) closeNow(left.parent);
    }
  }
}

/** A folder being listed: its sorted names, how far the listing is, the sub-folders found so far. */
interface Folder {
  dir: SafeDir;
  names: string[];
  prefix: string;
  /** The prefix as `RowFormat.write` takes it; undefined when it needs quoting. */
  prefixBytes: Buffer | undefined;
  next: number;
  subdirs: string[];
}

/**
 * Lists names up to `until`, handing full chunks to `ready`, and stops early once AHEAD_BYTES are waiting
 * there. Synchronous: each lstat goes through the folder's descriptor, with no thread-pool round trip.
 */
function listSome(folder: Folder, until: number, format: RowFormat, chunks: Chunks, ready: Buffer[]): void {
  const { dir, names, prefix, prefixBytes, subdirs } = folder;
  let waiting = 0;
  while (folder.next < until && waiting < AHEAD_BYTES) {
    const name = names[folder.next++] as string;
    const info = lstatEntry(dir, name);
    if (info === undefined) continue;
    if (info.isDirectory() && info.dev === dir.dev) subdirs.push(name);
    const written = prefixBytes === undefined ? false : format.write(chunks, prefixBytes, name, info, dir);
    const full = written === false ? chunks.add(format.line(prefix + name, info, dir, name)) : written;
    if (full === undefined) continue;
    ready.push(full);
    waiting += full.length;
  }
}

function openChild(
  ctx: CollectContext,
  item: Child,
  dev: number,
  closeNow: (dir: SafeDir) => void,
): Pending | undefined {
  const opened = item.parent.openDirNow(item.name);
  if (item.last) closeNow(item.parent);
  if (!(opened instanceof SafeDir)) {
    if (opened.kind === "refused") ctx.problem(item.path, opened.code, opened.reason);
    return undefined;
  }
  // Mounted elsewhere since it was listed: not entered, like find -xdev.
  if (opened.dev !== dev) {
    opened.closeNow();
    return undefined;
  }
  return { dir: opened, path: item.path };
}

function lstatEntry(dir: SafeDir, name: string): Stats | undefined {
  try {
    return dir.lstatNow(name);
  } catch {
    return undefined; // removed or unreadable between the listing and the stat, as with find
  }
}
