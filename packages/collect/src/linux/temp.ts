import type { Stats } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { csvCell, csvLine } from "../csv.js";
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
  try {
    const csv = Readable.from(walk(ctx, top, root, new RowFormat(owner), budget), {
      objectMode: false,
      highWaterMark: AHEAD_BYTES,
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

// Entries listed between two turns of the event loop (so a timeout or abort still cuts the listing),
// and the size of the CSV chunks handed on.
const TURN_EVERY = 1024;
const CHUNK_BYTES = 64 * 1024;
// How far the walk may run ahead of the sink (whose writes wait on the thread pool meanwhile).
const AHEAD_BYTES = 16 * CHUNK_BYTES;

/**
 * CSV lines encoded straight into 64 KiB chunks: one small UTF-8 write per line, where building a long
 * string and converting it at the end cost more than the listing's own formatting.
 */
class Chunks {
  private buffer = Buffer.allocUnsafe(2 * CHUNK_BYTES);
  private used = 0;

  /** Adds a line; returns a full chunk to hand on, or undefined. */
  add(line: string): Buffer | undefined {
    // A UTF-16 unit is at most 3 UTF-8 bytes: room for that many is room for the whole line.
    if (line.length * 3 <= this.buffer.length - this.used) {
      this.used += this.buffer.write(line, this.used, "utf8");
      return this.used >= CHUNK_BYTES ? this.take() : undefined;
    }
    // A line longer than the room left (long paths and link targets): what came before, then the line.
    const before = this.take();
    const encoded = Buffer.from(line, "utf8");
    return before === undefined ? encoded : Buffer.concat([before, encoded]);
  }

  /** What has been added since the last chunk, or undefined when nothing has. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const chunk = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(2 * CHUNK_BYTES);
    this.used = 0;
    return chunk;
  }
}

/**
 * The listing as CSV, depth-first, sorted, never leaving the root's filesystem (like find -xdev).
 * Each sub-folder is opened inside the folder already open, so one swapped for a symlink meanwhile is
 * refused, never followed. Folders are read, stat'ed and formatted synchronously, from inside the folder
 * (`listSome`), a turn of the event loop every TURN_EVERY entries: per entry, no promise, no thread-pool
 * round trip, no row object.
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
      const folder: Folder = { dir, names, prefix: join(path, "x").slice(0, -1), next: 0, subdirs: [] };
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
        dir.insideNow(() => listSome(folder, until, format, chunks, ready));
        budget.left -= folder.next - from;
        sinceTurn += folder.next - from;
        yield* ready;
      }
      const { prefix, subdirs } = folder;
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
  next: number;
  subdirs: string[];
}

/**
 * Lists names up to `until`, handing full chunks to `ready`, and stops early once AHEAD_BYTES are waiting
 * there. Synchronous, so it may run with the folder as the working folder (`SafeDir.insideNow`), each
 * lstat a one-component lookup.
 */
function listSome(folder: Folder, until: number, format: RowFormat, chunks: Chunks, ready: Buffer[]): void {
  const { dir, names, prefix, subdirs } = folder;
  let waiting = 0;
  while (folder.next < until && waiting < AHEAD_BYTES) {
    const name = names[folder.next++] as string;
    const info = lstatEntry(dir, name);
    if (info === undefined) continue;
    if (info.isDirectory() && info.dev === dir.dev) subdirs.push(name);
    const full = chunks.add(format.line(prefix + name, info, dir, name));
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

const MS_PER_DAY = 86_400_000;
// Date's own range for the fast path: years 1970-9999 (toISOString widens the year outside 0-9999).
const FAST_UNTIL = Date.UTC(10_000, 0, 1);
const DIGITS2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/**
 * Formats listing rows exactly as `csvLine` would format a `ListingRow` (the Stats dates are
 * `new Date(Math.round(ms))`), without building the row or the Dates: owner cells, modes and the date
 * part of timestamps are computed once and reused.
 */
class RowFormat {
  private readonly owners = new Map<number, string>();
  private readonly modes: string[] = [];
  private day = Number.NaN;
  private dayText = "";

  constructor(private readonly owner: (uid: number) => string) {}

  line(path: string, info: Stats, dir: SafeDir, name: string): string {
    const type = typeOf(info);
    let linkTarget = "";
    if (type === "symlink") {
      try {
        linkTarget = csvCell(dir.readlinkNow(name));
      } catch {
        linkTarget = "?";
      }
    }
    const birthtime = info.birthtimeMs > 0 ? this.iso(info.birthtimeMs) : "";
    return `${csvCell(path)},${type},${info.size},${info.uid},${this.ownerCell(info.uid)},${info.gid},${this.mode(info.mode)},${this.iso(info.mtimeMs)},${this.iso(info.atimeMs)},${this.iso(info.ctimeMs)},${birthtime},${linkTarget}\r\n`;
  }

  private ownerCell(uid: number): string {
    let cell = this.owners.get(uid);
    if (cell === undefined) {
      cell = csvCell(this.owner(uid));
      this.owners.set(uid, cell);
    }
    return cell;
  }

  private mode(mode: number): string {
    const bits = mode & 0o7777;
    let text = this.modes[bits];
    if (text === undefined) {
      text = bits.toString(8).padStart(4, "0");
      this.modes[bits] = text;
    }
    return text;
  }

  private iso(ms: number): string {
    const t = Math.round(ms);
    if (!(t >= 0 && t < FAST_UNTIL)) return new Date(t).toISOString();
    const day = Math.floor(t / MS_PER_DAY);
    if (day !== this.day) {
      this.day = day;
      this.dayText = new Date(day * MS_PER_DAY).toISOString().slice(0, 11);
    }
    let rest = t - day * MS_PER_DAY;
    const millis = rest % 1000;
    rest = (rest - millis) / 1000;
    const seconds = rest % 60;
    rest = (rest - seconds) / 60;
    const minutes = rest % 60;
    const hours = (rest - minutes) / 60;
    return `${this.dayText}${DIGITS2[hours]}:${DIGITS2[minutes]}:${DIGITS2[seconds]}.${DIGITS3[millis]}Z`;
  }
}

function typeOf(info: Stats): string {
  if (info.isDirectory()) return "dir";
  if (info.isFile()) return "file";
  if (info.isSymbolicLink()) return "symlink";
  if (info.isFIFO()) return "fifo";
  if (info.isSocket()) return "socket";
  return "other";
}
