import type { Stats } from "node:fs";
import { join } from "node:path";
import { codeForErrno, errnoOf } from "../errno.js";
import { SafeDir } from "../safe-dir.js";
import { CHUNK_BYTES, type Chunks } from "./csv-chunks.js";
import type { RowFormat } from "./row-format.js";

// Imported by the listing's worker thread too (./temp-worker.ts): only files Node can load type-stripped.

/** What a walk reports to and is stopped by: the collection context, or a worker thread's stand-in. */
export interface WalkContext {
  readonly abortSignal: AbortSignal;
  readonly limits: { readonly maxListEntries: number };
  problem(source: string, code: string, reason: string): void;
}

/** The walk's shared state: entries since the last turn of the event loop, whether it was stopped. */
export interface WalkState {
  sinceTurn: number;
  stopped: boolean;
  readonly budget: { left: number };
}

/** An opened folder waiting to be listed, and the path it is listed under. */
interface Pending {
  dir: SafeDir;
  path: string;
}

/** A sub-folder still to be opened inside its parent; `last` closes the parent once opened. */
export interface Child {
  parent: SafeDir;
  name: string;
  path: string;
  last: boolean;
}

/** A folder being listed: its sorted names, how far the listing is, the sub-folders found so far. */
export interface Folder {
  dir: SafeDir;
  names: string[];
  prefix: string;
  /** The prefix as `RowFormat.write` takes it; undefined when it needs quoting. */
  prefixBytes: Buffer | undefined;
  next: number;
  subdirs: string[];
}

// Entries listed between two turns of the event loop (so a timeout or abort still cuts the listing).
const TURN_EVERY = 1024;
// How far the walk may run ahead of the sink (whose writes wait on the thread pool meanwhile).
export const AHEAD_BYTES = 16 * CHUNK_BYTES;

/**
 * Lists one folder's entries (sorted) into `chunks`, yielding full chunks; returns the folder with its
 * sub-folders, or undefined once the walk is stopped (abort, or the entry budget spent).
 */
export async function* listFolder(
  ctx: WalkContext,
  { dir, path }: Pending,
  format: RowFormat,
  chunks: Chunks,
  state: WalkState,
): AsyncGenerator<Buffer, Folder | undefined> {
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
  const { budget } = state;
  while (folder.next < names.length) {
    if (state.sinceTurn >= TURN_EVERY) {
      state.sinceTurn = 0;
      await new Promise(setImmediate);
    }
    if (ctx.abortSignal.aborted) state.stopped = true;
    else if (budget.left <= 0) {
      ctx.problem(path, "ERR_SIZE_LIMIT", `listing stopped after ${ctx.limits.maxListEntries} entries`);
      state.stopped = true;
    }
    if (state.stopped) return undefined;
    const from = folder.next;
    const until = Math.min(names.length, from + TURN_EVERY - state.sinceTurn, from + budget.left);
    const ready: Buffer[] = [];
    listSome(folder, until, format, chunks, ready);
    budget.left -= folder.next - from;
    state.sinceTurn += folder.next - from;
    yield* ready;
  }
  return folder;
}

/**
 * The listing of the sub-trees `items` (all inside `top`, the caller's to close), depth-first and
 * sorted, never leaving `top`'s filesystem. Each sub-folder is opened inside the folder already open, so
 * one swapped for a symlink meanwhile is refused, never followed.
 */
export async function* walkTrees(
  ctx: WalkContext,
  top: SafeDir,
  items: Child[],
  format: RowFormat,
  chunks: Chunks,
  state: WalkState,
): AsyncGenerator<Buffer> {
  const stack: (Pending | Child)[] = [...items].reverse();
  const closeNow = (dir: SafeDir): void => {
    if (dir !== top) dir.closeNow();
  };
  try {
    while (stack.length > 0) {
      const next = stack.pop() as (typeof stack)[number];
      const pending = "dir" in next ? next : openChild(ctx, next, top.dev, closeNow);
      if (pending === undefined) continue;
      const folder = yield* listFolder(ctx, pending, format, chunks, state);
      if (folder === undefined || folder.subdirs.length === 0) closeNow(pending.dir);
      if (folder === undefined) return;
      // Sorted order, first on top of the stack; the last child to be opened closes its parent, so
      // open folders stay one per level.
      const { subdirs, prefix, dir } = folder;
      for (let i = subdirs.length - 1; i >= 0; i--) {
        const name = subdirs[i] as string;
        stack.push({ parent: dir, name, path: prefix + name, last: i === subdirs.length - 1 });
      }
    }
  } finally {
    for (const left of stack) {
      if ("dir" in left) closeNow(left.dir);
      else if (left.last) closeNow(left.parent);
    }
  }
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
  ctx: WalkContext,
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
