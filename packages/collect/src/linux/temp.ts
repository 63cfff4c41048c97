import { join } from "node:path";
import { Readable } from "node:stream";
import { csvLine } from "../csv.js";
import { SafeDir } from "../safe-fs.js";
import type { CollectContext, Collector } from "../types.js";
import { readAccounts, segment, usersWithHomes } from "./accounts.js";
import { CHUNK_BYTES, Chunks } from "./csv-chunks.js";
import { RowFormat } from "./row-format.js";
import { WalkPool } from "./temp-pool.js";
import {
  AHEAD_BYTES,
  type Child,
  listFolder,
  type WalkContext,
  type WalkState,
  walkTrees,
} from "./temp-walk.js";

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
    const pool = WalkPool.forThisMachine(accounts.users.map((u) => [u.uid, u.user]));
    try {
      for (const [name, root] of SYSTEM_TEMP)
        await listing(ctx, `${name}.csv`, root, owner, budget, root, pool);
      for (const user of usersWithHomes(accounts)) {
        for (const dir of USER_TEMP) {
          const rel = `Users/${segment(user.user)}/${segment(dir)}.csv`;
          await listing(ctx, rel, join(user.home, dir), owner, budget, user.home, pool);
        }
      }
    } finally {
      await pool?.close();
    }
  },
};

/**
 * Writes a listing of `root` (never its contents) to `rel`; nothing when the folder is absent. `scope`
 * is the trusted folder the walk starts from (a user's home): a symlink below it is refused, recorded.
 * `pool` (optional) lists sub-trees on a second thread; its `owners` must name uids as `owner` does.
 */
export async function listing(
  ctx: CollectContext,
  rel: string,
  root: string,
  owner: (uid: number) => string,
  budget: { left: number },
  scope = root,
  pool?: WalkPool,
): Promise<void> {
  const top = await ctx.fs.openDir(root, { scope });
  if (!(top instanceof SafeDir)) return;
  try {
    // Chunks handed on one by one: a byte-mode stream would copy what is waiting into one buffer per read.
    const csv = Readable.from(walk(ctx, top, root, new RowFormat(owner), budget, pool), {
      objectMode: true,
      highWaterMark: AHEAD_BYTES / CHUNK_BYTES,
    });
    await ctx.emit(rel, csv, { source: root });
  } finally {
    await top.close();
  }
}

/**
 * The listing as CSV, depth-first, sorted, never leaving the root's filesystem (like find -xdev): see
 * `walkTrees`. Folders are read, stat'ed (through the folder's descriptor) and formatted synchronously,
 * a turn of the event loop every 1,024 entries: per entry, no promise, no thread-pool round trip, no row
 * object. The process's working folder never moves: a worker thread or a queued file operation with a
 * relative path (a package being written) would resolve it elsewhere. With a `pool`, the top folder's
 * sub-trees are shared with a second thread; the rows are the same, in the same order.
 */
export async function* walk(
  ctx: WalkContext,
  top: SafeDir,
  root: string,
  format: RowFormat,
  budget: { left: number },
  pool?: WalkPool,
): AsyncGenerator<Buffer> {
  const chunks = new Chunks();
  chunks.add(csvLine(COLUMNS));
  const state: WalkState = { sinceTurn: 0, stopped: false, budget };
  const folder = yield* listFolder(ctx, { dir: top, path: root }, format, chunks, state);
  if (folder === undefined) return yield* flush(chunks);
  const trees: Child[] = folder.subdirs.map((name) => ({
    parent: top,
    name,
    path: folder.prefix + name,
    last: false,
  }));
  const share = pool?.share(top, folder.prefix, folder.subdirs);
  try {
    for (let next = 0; next < trees.length && !state.stopped; next++) {
      const tree =
        share === undefined || share.claim(next) ? undefined : await share.result(next, ctx.abortSignal);
      if (tree === undefined || tree.entries > budget.left || ctx.abortSignal.aborted) {
        // Ours, or not listed by the worker, or past the budget (listed here, which stops where it ends).
        yield* walkTrees(ctx, top, trees.slice(next, next + 1), format, chunks, state);
      } else {
        yield* flush(chunks);
        for (const problem of tree.problems) ctx.problem(problem.source, problem.code, problem.reason);
        budget.left -= tree.entries;
        for (const chunk of tree.chunks) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
      share?.taken(next);
    }
  } finally {
    // The worker holds a descriptor of `top` (the caller closes it) until `done`.
    share?.stop();
    await share?.done;
  }
  yield* flush(chunks);
}

function* flush(chunks: Chunks): Generator<Buffer> {
  const rest = chunks.take();
  if (rest !== undefined) yield rest;
}
