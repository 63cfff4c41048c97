import { constants } from "node:fs";
import { type FileHandle, lstat, open, readlink } from "node:fs/promises";
import type { ImageSource } from "@custody/audit";
import { CustodyError, toCustodyError } from "@custody/core";
import { blockDeviceInfo, blockDeviceSize } from "./sysfs.js";

/** An opened local source: a block device or a regular file, never followed through a link. */
export interface LocalSource {
  readonly handle: FileHandle;
  readonly description: ImageSource;
  /** The source's size now: a device or file that grew or shrank during the read is refused. */
  currentSize(): Promise<number>;
  /** For a file: its modification time now (a write during the read changes it). */
  modifiedAt(): Promise<number>;
}

/**
 * Opens `path` for reading without following a symlink and without blocking on a FIFO. Only block
 * devices and regular files are sources: a symlink, FIFO, socket, character device or folder is refused
 * before a byte is read, so what is recorded as read is exactly what was named.
 */
export async function openLocalSource(path: string): Promise<LocalSource> {
  await assertPlainSource(path);
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    (error: unknown) => {
      throw toCustodyError(error, "ERR_IO", `cannot open ${path}`);
    },
  );
  try {
    return await describeOpened(path, handle);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function assertPlainSource(path: string): Promise<void> {
  const info = await lstat(path).catch((error: unknown) => {
    throw toCustodyError(error, "ERR_IO", `cannot acquire ${path}`);
  });
  if (info.isSymbolicLink()) {
    const target = await readlink(path).catch(() => "?");
    throw new CustodyError(
      "ERR_UNSAFE_PATH",
      `${path} is a symbolic link (to ${target}); name the device or file itself, so the record says what was read`,
      { details: { path, target } },
    );
  }
  if (!info.isBlockDevice() && !info.isFile()) {
    throw new CustodyError(
      "ERR_SOURCE_UNSUPPORTED",
      `${path} is ${kindOf(info)}: only block devices and regular files are acquired`,
      { details: { path } },
    );
  }
}

async function describeOpened(path: string, handle: FileHandle): Promise<LocalSource> {
  const info = await handle.stat();
  if (info.isBlockDevice()) {
    const device = await blockDeviceInfo(info.rdev);
    return {
      handle,
      description: { kind: "block-device", path, ...device },
      currentSize: () => blockDeviceSize(info.rdev),
      modifiedAt: async () => 0,
    };
  }
  if (!info.isFile()) {
    throw new CustodyError("ERR_SOURCE_UNSUPPORTED", `${path} changed kind while it was opened`);
  }
  return {
    handle,
    description: {
      kind: "file",
      path,
      size: info.size,
      sectorSize: 512,
      identification: { modifiedAt: info.mtime.toISOString(), inode: String(info.ino) },
    },
    currentSize: async () => (await handle.stat()).size,
    modifiedAt: async () => (await handle.stat()).mtimeMs,
  };
}

function kindOf(info: Awaited<ReturnType<typeof lstat>>): string {
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isDirectory()) return "a folder";
  return "not a block device or a regular file";
}
