import type { Stats } from "node:fs";
import { lstat, opendir } from "node:fs/promises";
import { posix } from "node:path";
import { CustodyError, throwIfAborted } from "@custody/core";

export interface WalkEntry {
  path: string;
  name: string;
  stats: Stats;
  depth: number;
}

export interface WalkOptions {
  /** 0 lists the directory itself only. */
  maxDepth: number;
  maxEntries: number;
  signal: AbortSignal;
  /** Directories not descended into (pseudo-filesystems, denied paths). */
  skip?: (path: string) => boolean;
  /** Unreadable directories are reported here and the walk goes on. */
  onError?: (path: string, error: unknown) => void;
}

/**
 * Lists a tree breadth-first without following a symlink (lstat only), bounded in depth and entries,
 * checking the signal between entries.
 */
export async function* walk(root: string, options: WalkOptions): AsyncGenerator<WalkEntry> {
  let seen = 0;
  const queue: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(next.dir);
    } catch (error) {
      if (next.dir === root) throw error;
      options.onError?.(next.dir, error);
      continue;
    }
    for await (const dirent of handle) {
      throwIfAborted(options.signal);
      if (++seen > options.maxEntries)
        throw new CustodyError("ERR_SIZE_LIMIT", `more than ${options.maxEntries} entries`, {
          details: { limit: options.maxEntries },
        });
      const path = posix.join(next.dir, dirent.name);
      const stats = await lstat(path).catch((error: unknown) => {
        options.onError?.(path, error);
        return undefined;
      });
      if (stats === undefined) continue;
      yield { path, name: dirent.name, stats, depth: next.depth };
      if (stats.isDirectory() && next.depth < options.maxDepth && !options.skip?.(path))
        queue.push({ dir: path, depth: next.depth + 1 });
    }
  }
}
