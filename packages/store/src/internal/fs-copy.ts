import { type BigIntStats, constants } from "node:fs";
import { copyFile, type FileHandle, open, stat, statfs } from "node:fs/promises";
import { CustodyError } from "@custody/core/errors";

// Kept free of the store's other modules (and of zod): the early copy, which a program imports before
// anything else, uses it too.

/**
 * File systems on which a file copied by the kernel never shows a size ahead of the bytes written
 * (the copy goes through the page cache, or is a clone made whole at once): ext4, xfs, btrfs, tmpfs.
 * Elsewhere (a network file system copying on its server, FUSE, overlayfs) the copy is read only once
 * the kernel is done with it.
 */
const FOLLOWABLE_FS_TYPES = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994]);

/** Whether a copy into `dir` may be read while the kernel still writes it (see FOLLOWABLE_FS_TYPES). */
export async function copiesCanBeFollowed(dir: string): Promise<boolean> {
  try {
    return FOLLOWABLE_FS_TYPES.has((await statfs(dir)).type);
  } catch {
    return false;
  }
}

/** The same file, unchanged: device, inode, size, modification and change times, to the nanosecond. */
export function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return (
    b.isFile() &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/**
 * After a kernel copy of `source` (as `before` described it when the copy began) into `dest` ended:
 * refuses a copy whose source changed meanwhile (it may hold bytes of two versions) or that is not
 * whole, with ERR_INTEGRITY_MISMATCH.
 */
export async function assertWholeCopy(source: string, before: BigIntStats, dest: string): Promise<void> {
  const [now, copied] = await Promise.all([
    stat(source, { bigint: true }).catch(() => undefined),
    stat(dest, { bigint: true }),
  ]);
  if (now === undefined || !sameFile(before, now) || copied.size !== before.size) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `${source} changed while it was copied; nothing was stored (ingest it again once it is still)`,
      { details: { source } },
    );
  }
}

/** Copies `source` (described by `before`) to the new file `dest` in the kernel; see `assertWholeCopy`. */
export async function copyWholeFile(source: string, before: BigIntStats, dest: string): Promise<void> {
  // COPYFILE_EXCL: never onto an existing file.
  await copyFile(source, dest, constants.COPYFILE_EXCL);
  await assertWholeCopy(source, before, dest);
}

/**
 * The staged copy of a whole file, read while the kernel may still be writing it: a read waits until
 * the copy holds every byte it asks for, or the copy has ended (then it reads what there is). `whole`
 * settles when the kernel's copy has ended, rejected when it failed or is not a faithful copy.
 */
export class GrowingCopy {
  readonly handle: FileHandle;
  readonly whole: Promise<void>;
  #ended = false;
  readonly #settled: Promise<void>;

  private constructor(handle: FileHandle, whole: Promise<void>) {
    this.handle = handle;
    this.whole = whole;
    this.#settled = whole.then(
      () => {
        this.#ended = true;
      },
      () => {
        this.#ended = true;
      },
    );
  }

  /**
   * Opens `path`, the destination of the copy `whole` stands for: at once when `follow`, as soon as the
   * kernel has made the file; otherwise once the copy has ended. Rejects as `whole` does.
   */
  static async open(path: string, whole: Promise<void>, follow: boolean): Promise<GrowingCopy> {
    const settled = whole.then(
      () => true,
      () => true,
    );
    if (!follow) await whole;
    for (;;) {
      try {
        return new GrowingCopy(await open(path, "r"), whole);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        // The kernel has not made the file yet; a copy that ended without it says why.
        if (await Promise.race([settled, pause(1)])) {
          await whole;
          return new GrowingCopy(await open(path, "r"), whole);
        }
      }
    }
  }

  /** `length` bytes at `position` once the copy holds them (fewer only at its end); rejects as `whole` does. */
  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }> {
    for (;;) {
      if (this.#ended) {
        await this.whole;
        return this.handle.read(buffer, offset, length, position);
      }
      const { size } = await this.handle.stat();
      if (size >= position + length) return this.handle.read(buffer, offset, length, position);
      await Promise.race([this.#settled, pause(1)]);
    }
  }
}

function pause(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms));
}
