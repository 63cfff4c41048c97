import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { throwIfAborted } from "@custody/core";
import { errnoCode } from "./fs-durable.js";

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/**
 * Yields the keys under `prefix` in UTF-16 code-unit order without sorting them all in memory: in each
 * directory a leaf "=x" sorts as "x" and a subdirectory "x" as "x/", which is exactly where every key
 * below it sorts among its siblings.
 */
export async function* walkKeys(
  objectsRoot: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  yield* walk(objectsRoot, "", prefix, signal);
}

async function* walk(
  dir: string,
  keyPrefix: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  throwIfAborted(signal);
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  });
  const items: { sortKey: string; name: string; leaf: boolean }[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const leaf = entry.name.startsWith("=");
    const segment = leaf ? entry.name.slice(1) : entry.name;
    if (!SEGMENT.test(segment)) continue;
    items.push({ sortKey: leaf ? segment : `${segment}/`, name: entry.name, leaf });
  }
  items.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  for (const item of items) {
    const path = keyPrefix + item.sortKey;
    if (item.leaf) {
      if (path.startsWith(prefix)) yield path;
    } else if (path.startsWith(prefix) || prefix.startsWith(path)) {
      yield* walk(join(dir, item.name), path, prefix, signal);
    }
  }
}
