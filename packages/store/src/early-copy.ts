import { randomUUID } from "node:crypto";
import { type BigIntStats, constants, statSync, unlinkSync } from "node:fs";
import { copyFile, rename, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { assertWholeCopy, sameFile } from "./internal/fs-copy.js";

// Kept free of the store's other modules (and of zod): a program imports this before anything else, so
// the copy starts while the rest of it loads.

/**
 * A whole file copied by the kernel into an fs store's staging area before the store is opened, so the
 * copy runs on another core while a program loads its code and opens its vault (`custody ingest` of a
 * large file). The fs store's `createAddressed` takes it (`earlyCopy`) in place of copying the file
 * itself only when it lies in that store's staging area, is of the same source, the kernel's copy has
 * not failed, and the source has not changed since the copy began (same device, inode, size,
 * modification and change times, to the nanosecond); it then hashes the copy as it hashes its own, as
 * the kernel writes it.
 * Otherwise it is removed and the store copies the file as usual. A source that changes once the store
 * has taken the copy, before the kernel is done, is refused as a change during the store's own copy
 * is: an early copy changes how soon, never what is stored.
 */
export interface EarlyCopy {
  /** The file copied, as an absolute path. */
  readonly source: string;
  /** Where the copy lies: `<store>/tmp/<pid>-<uuid>.early`, removed by the store's open after a crash. */
  readonly path: string;
  /** Removes the copy unless a store has taken it (now, or once a copy still running ends); never throws. */
  discard(): void;
  /**
   * Resolves once the kernel's copy has ended, a discarded copy's file removed with it (until then a
   * copy discarded early may not even exist yet); never rejects.
   */
  readonly settled: Promise<void>;
}

interface CopyState {
  before: BigIntStats;
  /** Settles once the kernel's copy has ended: true when it copied the file whole. */
  copied: Promise<boolean>;
  /** Why the kernel's copy failed, once it has. */
  failure?: unknown;
  status: "open" | "taken" | "discarded";
}

const states = new WeakMap<EarlyCopy, CopyState>();

/**
 * Larger files are not copied early. The kernel's copy cannot be stopped once it runs (the process
 * waits for it even to exit), so a command refused before the store takes it (a usage error found by
 * the command, an identity that does not open, a vault that does not) would wait for the whole copy; the
 * saving is the fraction of a second start-up takes, which beside such a file's own copy is small.
 */
export const EARLY_COPY_MAX_BYTES = 2 * 1024 ** 3;

/**
 * Starts copying `source` into the staging area of the fs store at `storeRoot`; undefined (nothing
 * started) when the source is not a regular file with bytes, is over `EARLY_COPY_MAX_BYTES`, `storeRoot`
 * holds no fs store, or either cannot be looked at. Never throws.
 */
export function startEarlyCopy(storeRoot: string, source: string): EarlyCopy | undefined {
  const from = resolve(source);
  const root = resolve(storeRoot);
  const before = statOrUndefined(from);
  if (before === undefined || !before.isFile() || before.size === 0n) return undefined;
  if (before.size > BigInt(EARLY_COPY_MAX_BYTES)) return undefined;
  if (statOrUndefined(join(root, "custody-store.json"))?.isFile() !== true) return undefined;
  if (statOrUndefined(join(root, "tmp"))?.isDirectory() !== true) return undefined;
  const path = join(root, "tmp", `${process.pid}-${randomUUID()}.early`);
  const remove = () => {
    try {
      unlinkSync(path);
    } catch {
      // never made, or already gone
    }
  };
  const state: CopyState = {
    before,
    // COPYFILE_EXCL: never onto an existing file. A failed copy is only a copy not taken.
    copied: copyFile(from, path, constants.COPYFILE_EXCL).then(
      () => {
        if (state.status === "discarded") remove();
        return state.status !== "discarded";
      },
      (error: unknown) => {
        state.failure = error;
        remove();
        return false;
      },
    ),
    status: "open",
  };
  const copy: EarlyCopy = {
    source: from,
    path,
    settled: state.copied.then(() => undefined),
    discard: () => {
      if (state.status !== "open") return;
      state.status = "discarded";
      remove();
    },
  };
  states.set(copy, state);
  return copy;
}

/**
 * For the fs store: moves `copy` to `dest` when it may stand for a copy of `source` made now into the
 * staging area `tmpDir` (see EarlyCopy), possibly while the kernel still writes it; otherwise discards
 * it and resolves to undefined. Once taken, `whole` settles when the kernel's copy has ended: fulfilled
 * when it is whole and the source was not changed since the copy began, rejected otherwise
 * (ERR_INTEGRITY_MISMATCH for a change, the copy's own error for a failed copy). Never throws.
 */
export async function takeEarlyCopy(
  copy: EarlyCopy | undefined,
  source: string,
  tmpDir: string,
  dest: string,
): Promise<{ whole: Promise<void> } | undefined> {
  const state = copy === undefined ? undefined : states.get(copy);
  if (copy === undefined || state === undefined || state.status !== "open") return undefined;
  try {
    const usable =
      copy.source === resolve(source) &&
      dirname(copy.path) === resolve(tmpDir) &&
      sameFile(state.before, await stat(copy.source, { bigint: true })) &&
      (await madeByKernel(copy.path, state)) &&
      state.status === "open";
    if (!usable) return undefined;
    await rename(copy.path, dest);
    state.status = "taken";
    const whole = state.copied.then(async (copied) => {
      if (!copied) throw state.failure;
      await assertWholeCopy(copy.source, state.before, dest);
    });
    whole.catch(() => {}); // the store reads it; a copy nobody reads any more must not be unhandled
    return { whole };
  } catch {
    return undefined;
  } finally {
    copy.discard();
  }
}

/** Waits until the kernel has made the copy's file (it may not have yet); false if the copy failed. */
async function madeByKernel(path: string, state: CopyState): Promise<boolean> {
  let ended = false;
  void state.copied.then(() => {
    ended = true;
  });
  for (;;) {
    if ((await stat(path).catch(() => undefined)) !== undefined) return true;
    if (ended) return (await state.copied) && (await stat(path).catch(() => undefined)) !== undefined;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined; // not a directory on the way, no permission...
  }
}
