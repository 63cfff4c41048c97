import { readlink } from "node:fs/promises";
import { CustodyError, toCustodyError } from "@custody/core";
import type { AgentPolicy } from "../policy-types.js";
import { loadOwners, statFields } from "./owners.js";
import { checkedPath, fileType, lstatChecked } from "./paths.js";
import { walk } from "./walk.js";

export const DIR_MAX_DEPTH = 8;
export const DIR_MAX_ENTRIES = 100_000;

export interface DirOptions {
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
}

/** Lists a directory (or a tree with -recursive, depth 8, 100k entries), never following a symlink. */
export async function* dir(
  input: string | undefined,
  recursive: boolean,
  options: DirOptions,
): AsyncGenerator<Record<string, unknown>> {
  const start = input ?? options.cwd;
  if (start === null)
    throw new CustodyError("ERR_INVALID_ARGUMENT", "dir needs a path when the session has no directory yet");
  const path = await checkedPath(start, options.cwd, options.policy);
  const stats = await lstatChecked(path);
  if (!stats.isDirectory())
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${path} is a ${fileType(stats)}, not a directory`, {
      details: { path },
    });
  const owners = await loadOwners();
  const entries = walk(path, {
    maxDepth: recursive ? DIR_MAX_DEPTH : 0,
    maxEntries: DIR_MAX_ENTRIES,
    signal: options.signal,
  });
  try {
    for await (const entry of entries) {
      const type = fileType(entry.stats);
      const link = type === "symlink" ? await readlink(entry.path).catch(() => null) : undefined;
      yield {
        name: recursive ? entry.path.slice(path.length).replace(/^\//, "") : entry.name,
        path: entry.path,
        type,
        ...statFields(entry.stats, owners),
        ...(link === undefined ? {} : { link }),
      };
    }
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `listing ${path} failed`);
  }
}
