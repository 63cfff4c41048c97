import { opendir } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, systemClock, throwIfAborted, toCustodyError } from "@custody/core";
import type { ItemRecord, PackageResult, PackageWriterOptions } from "./package-types.js";
import { createPackageWriter } from "./package-writer.js";
import type { CollectionSummaryRow } from "./summary.js";

export interface PackageDirectoryOptions extends PackageWriterOptions {
  /** Files read and compressed ahead of the one being written (default 8). */
  concurrency?: number;
  /** CollectionSummary.csv rows; by default one row per top-level folder (its data point). */
  summary?: readonly CollectionSummaryRow[];
}

/**
 * Packages every regular file under `dir` as the payload (data/<relative path>), in path order.
 * Several files are read and compressed at once while they are written in order. A link or a special
 * file in the tree is refused (ERR_ARCHIVE_SYMLINK / ERR_INVALID_ARGUMENT): a package holds only files.
 */
export async function packageDirectory(
  dir: string,
  outFile: string,
  options: PackageDirectoryOptions,
): Promise<PackageResult> {
  const writer = createPackageWriter(outFile, options);
  const limit = Math.max(1, options.concurrency ?? 8);
  const inFlight = new Set<Promise<unknown>>();
  const tally = new SummaryTally((options.clock ?? systemClock).now(), `custody package ${dir}`);
  try {
    for await (const path of walk(dir, "")) {
      throwIfAborted(options.abortSignal);
      const added = writer.addFile(path, join(dir, path)).then((item) => tally.add(item));
      const tracked = added.finally(() => inFlight.delete(tracked));
      tracked.catch(() => {}); // observed through race/all below; never an unhandled rejection
      inFlight.add(tracked);
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    writer.setCollectionSummary(options.summary ?? tally.rows((options.clock ?? systemClock).now()));
    return await writer.finalize();
  } catch (error) {
    await Promise.allSettled(inFlight);
    await writer.abort(error);
    throw toCustodyError(error, "ERR_IO", `cannot package ${dir}`);
  }
}

/** Regular files under `root`, as '/'-separated paths, sorted by UTF-16 code units at every level. */
async function* walk(root: string, prefix: string): AsyncGenerator<string> {
  const children: { name: string; kind: "file" | "folder" }[] = [];
  for await (const entry of await opendir(join(root, prefix))) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isSymbolicLink()) {
      throw new CustodyError(
        "ERR_ARCHIVE_SYMLINK",
        `${path} is a symbolic link; packages hold only regular files`,
        { details: { path } },
      );
    }
    if (entry.isDirectory()) children.push({ name: entry.name, kind: "folder" });
    else if (entry.isFile()) children.push({ name: entry.name, kind: "file" });
    else
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${path} is not a regular file`, { details: { path } });
  }
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const child of children) {
    const path = prefix === "" ? child.name : `${prefix}/${child.name}`;
    if (child.kind === "folder") yield* walk(root, path);
    else yield path;
  }
}

/** Files and bytes per data point, for a collection summary of a folder packaged as it is. */
class SummaryTally {
  #points = new Map<string, { files: number; bytes: number }>();

  constructor(
    private readonly startedAt: Date,
    private readonly source: string,
  ) {}

  add(item: ItemRecord): void {
    const point = this.#points.get(item.dataPoint) ?? { files: 0, bytes: 0 };
    this.#points.set(item.dataPoint, { files: point.files + 1, bytes: point.bytes + item.size });
  }

  rows(endedAt: Date): CollectionSummaryRow[] {
    const durationMs = Math.max(0, endedAt.getTime() - this.startedAt.getTime());
    return [...this.#points]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([dataPoint, point]) => ({
        dataPoint,
        source: this.source,
        status: "ok" as const,
        startedAt: this.startedAt.toISOString(),
        durationMs,
        ...point,
      }));
  }
}
