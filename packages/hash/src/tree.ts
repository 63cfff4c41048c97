import { constants } from "node:fs";
import { open, readlink, stat } from "node:fs/promises";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core/errors";
import { assertPathArgument, type DigestSet, type HashAlgorithm, resolveAlgorithms } from "./algorithms.js";
import { hashHandle, READ_CHUNK_BYTES } from "./file.js";
import { TreeHashPool } from "./internal/tree-pool.js";
import { type OtherType, otherType, type WalkItem, walkTree } from "./internal/walk.js";

/** One thing below the hashed folder; `path` is relative with '/' separators. */
export type TreeEntry =
  | { kind: "file"; path: string; size: number; digests: DigestSet }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "error"; path: string; error: CustodyError }
  | { kind: "other"; path: string; type: OtherType };

export type { OtherType };

export interface HashTreeOptions {
  algorithms?: readonly HashAlgorithm[];
  /** Files in flight at once (default 64, 1 to 256); results still come out in path order. */
  concurrency?: number;
  abortSignal?: AbortSignal;
  /** Called after each file with running totals. */
  onProgress?: (progress: { files: number; bytes: number }) => void;
}

// O_NOFOLLOW: a file swapped for a symlink after listing is refused, not followed.
// O_NONBLOCK: a file swapped for a FIFO cannot hang the walk on open.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
// Small trees are hashed on this thread; past this many files, worker threads pay for themselves.
const POOL_AFTER_FILES = 32;

/**
 * Every entry below `dir` in sorted relative-path order, files digested as they stream past.
 * Symlinks are reported, never followed; unreadable files and folders are reported with their
 * error, never skipped. Only a `dir` that is missing, unreadable or not a folder, or an abort, throws.
 */
export async function* hashTree(dir: string, options: HashTreeOptions = {}): AsyncGenerator<TreeEntry> {
  assertPathArgument(dir, "the folder to hash");
  const algorithms = resolveAlgorithms(options.algorithms);
  const concurrency = checkConcurrency(options.concurrency ?? 64);
  const signal = options.abortSignal;
  await assertDirectory(dir);
  const reader = new FileReader(algorithms, signal);
  const progress = { files: 0, bytes: 0 };
  const report = (entry: TreeEntry): TreeEntry => {
    throwIfAborted(signal);
    if (entry.kind === "file") {
      progress.files += 1;
      progress.bytes += entry.size;
      options.onProgress?.({ ...progress });
    }
    return entry;
  };
  const inFlight: Promise<TreeEntry>[] = [];
  const abort = abortRace(signal);
  // An abort must not wait for a large file in flight to finish: race every wait against it.
  const next = () => Promise.race([inFlight.shift() as Promise<TreeEntry>, abort.promise]);
  try {
    for await (const item of walkTree(dir, "", signal)) {
      inFlight.push(reader.resolve(item));
      if (inFlight.length >= concurrency) yield report(await next());
    }
    while (inFlight.length > 0) yield report(await next());
  } finally {
    abort.dispose();
    await reader.close();
  }
}

function abortRace(signal: AbortSignal | undefined): { promise: Promise<never>; dispose: () => void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(new CustodyError("ERR_ABORTED", "the operation was aborted", { cause: signal?.reason }));
  });
  promise.catch(() => {}); // only observed through Promise.race
  signal?.addEventListener("abort", onAbort, { once: true });
  return { promise, dispose: () => signal?.removeEventListener("abort", onAbort) };
}

function checkConcurrency(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 256) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `concurrency must be an integer from 1 to 256, not ${value}`,
    );
  }
  return value;
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot hash the folder ${dir}`);
  });
  if (!info.isDirectory()) throw new CustodyError("ERR_INVALID_ARGUMENT", `${dir} is not a folder`);
}

/** Turns walk items into entries; never rejects, so one bad file cannot hide the rest. */
class FileReader {
  readonly #algorithms: readonly HashAlgorithm[];
  readonly #signal: AbortSignal | undefined;
  #buffers: readonly [Buffer, Buffer] | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #pool: TreeHashPool | undefined;
  #files = 0;

  constructor(algorithms: readonly HashAlgorithm[], signal: AbortSignal | undefined) {
    this.#algorithms = algorithms;
    this.#signal = signal;
  }

  resolve(item: WalkItem): Promise<TreeEntry> {
    switch (item.kind) {
      case "file":
        return this.#file(item.path, item.absolute);
      case "symlink":
        return readlink(item.absolute).then(
          (target): TreeEntry => ({ kind: "symlink", path: item.path, target }),
          (cause: unknown): TreeEntry => failed(item.path, cause),
        );
      case "other":
      case "error":
        return Promise.resolve(item);
    }
  }

  async #file(path: string, absolute: string): Promise<TreeEntry> {
    this.#files += 1;
    if (this.#pool === undefined && this.#files > POOL_AFTER_FILES) {
      this.#pool = new TreeHashPool(this.#algorithms, READ_CHUNK_BYTES, OPEN_FLAGS);
    }
    if (this.#pool !== undefined) return { path, ...(await this.#pool.hash(absolute, path)) };
    return this.#fileHere(path, absolute);
  }

  // Few files: one at a time on this thread (the start-up of workers would cost more).
  #fileHere(path: string, absolute: string): Promise<TreeEntry> {
    const entry = this.#lock.then(() => this.#digest(path, absolute));
    this.#lock = entry;
    return entry;
  }

  async #digest(path: string, absolute: string): Promise<TreeEntry> {
    try {
      const handle = await open(absolute, OPEN_FLAGS);
      try {
        const info = await handle.stat();
        if (!info.isFile()) return { kind: "other", path, type: otherType(info) };
        this.#buffers ??= [Buffer.allocUnsafe(READ_CHUNK_BYTES), Buffer.allocUnsafe(READ_CHUNK_BYTES)];
        const plan = { knownSize: info.size, buffers: this.#buffers };
        const { size, digests } = await hashHandle(handle, this.#algorithms, this.#signal, plan);
        return { kind: "file", path, size, digests };
      } finally {
        await handle.close().catch(() => {});
      }
    } catch (cause) {
      return failed(path, cause);
    }
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }
}

function failed(path: string, cause: unknown): TreeEntry {
  return { kind: "error", path, error: toCustodyError(cause, "ERR_IO", `cannot read ${path}`) };
}
