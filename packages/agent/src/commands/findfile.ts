import { readFile } from "node:fs/promises";
import { CustodyError, toCustodyError } from "@custody/core";
import type { AgentPolicy } from "../policy-types.js";
import { globToRegExp } from "./glob.js";
import { checkedPath } from "./paths.js";
import { walk } from "./walk.js";

export const FINDFILE_MAX_RESULTS = 10_000;
export const FINDFILE_MAX_DEPTH = 64;
const FINDFILE_MAX_VISITS = 5_000_000;
// Kernel and virtual filesystems: walking them finds nothing on disk and /proc alone is endless churn.
const PSEUDO_FS = new Set([
  "proc",
  "sysfs",
  "devtmpfs",
  "devpts",
  "cgroup",
  "cgroup2",
  "debugfs",
  "tracefs",
  "securityfs",
  "pstore",
  "bpf",
  "configfs",
  "fusectl",
  "mqueue",
  "hugetlbfs",
  "autofs",
  "binfmt_misc",
  "efivarfs",
  "nsfs",
]);

export interface FindOptions {
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
}

async function pseudoMounts(): Promise<Set<string>> {
  const text = await readFile("/proc/self/mounts", "utf8").catch(() => "");
  const mounts = new Set<string>();
  for (const line of text.split("\n")) {
    const [, point, type] = line.split(" ");
    if (point !== undefined && type !== undefined && PSEUDO_FS.has(type))
      mounts.add(point.replace(/\\040/g, " "));
  }
  return mounts;
}

function bounded(value: string | true | undefined, fallback: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  const n = value === true ? Number.NaN : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new CustodyError("ERR_INVALID_ARGUMENT", `-${name} takes a whole number from 1 to ${max}`);
  return n;
}

/** Finds files by name glob under a root (default the session directory, else /), bounded and cancellable. */
export async function* findFile(
  args: Record<string, string | true>,
  options: FindOptions,
): AsyncGenerator<Record<string, unknown>> {
  const pattern = globToRegExp(String(args.name));
  const maxResults = bounded(args.max_results, FINDFILE_MAX_RESULTS, FINDFILE_MAX_RESULTS, "max_results");
  const maxDepth = bounded(args.max_depth, FINDFILE_MAX_DEPTH, FINDFILE_MAX_DEPTH, "max_depth");
  const root = await checkedPath(
    typeof args.root === "string" ? args.root : (options.cwd ?? "/"),
    options.cwd,
    options.policy,
  );
  const skip = await pseudoMounts();
  let found = 0;
  try {
    for await (const entry of walk(root, {
      maxDepth,
      maxEntries: FINDFILE_MAX_VISITS,
      signal: options.signal,
      skip: (p) => skip.has(p),
    })) {
      if (!pattern.test(entry.name)) continue;
      yield {
        path: entry.path,
        size: entry.stats.size,
        mtime: new Date(entry.stats.mtimeMs).toISOString(),
        type: entry.stats.isFile() ? "file" : entry.stats.isDirectory() ? "directory" : "other",
      };
      if (++found >= maxResults) return;
    }
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `searching ${root} failed`);
  }
}
