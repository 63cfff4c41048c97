import { crc32 } from "node:zlib";
import { CustodyError, pathCollisionKey, unsafePathReason } from "@custody/core";
import type { Entry } from "yauzl";
import { FLAG_ENCRYPTED, FLAG_STRONG_ENCRYPTION, METHOD_DEFLATE, METHOD_STORE } from "./format.js";

/** Bounds on what a reader accepts; past any of them the archive is refused with ERR_ARCHIVE_LIMIT. */
export interface ArchiveLimits {
  /** Entries in the central directory (default 1,000,000). */
  maxEntries?: number;
  /** Declared uncompressed size of one entry (default 1 TiB). */
  maxEntryBytes?: number;
  /** Sum of declared uncompressed sizes (default 4 TiB). */
  maxTotalBytes?: number;
  /** Uncompressed/compressed size of one entry larger than `ratioFloorBytes` (default 1100: above what deflate can reach). */
  maxCompressionRatio?: number;
  /** Entries up to this size are exempt from the ratio check (default 1 MiB). */
  ratioFloorBytes?: number;
}

export const DEFAULT_LIMITS: Required<ArchiveLimits> = {
  maxEntries: 1_000_000,
  maxEntryBytes: 2 ** 40,
  maxTotalBytes: 2 ** 42,
  maxCompressionRatio: 1100,
  ratioFloorBytes: 1024 * 1024,
};

export interface ArchiveEntry {
  /** The full name in the archive, without a trailing '/' for directories. */
  name: string;
  directory: boolean;
  method: "store" | "deflate";
  size: number;
  compressedSize: number;
  crc32: number;
  localHeaderOffset: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const HOST_UNIX = 3;
const HOST_MACOS = 19;
const DOS_REPARSE_POINT = 0x400;

/** Checks one central-directory record alone; the caller checks what spans records (names, totals, layout). */
export function checkCentralEntry(entry: Entry, limits: Required<ArchiveLimits>): ArchiveEntry {
  const name = decodeName(entry);
  const where = { details: { path: name } };
  if (entry.generalPurposeBitFlag & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) {
    throw new CustodyError("ERR_ARCHIVE_ENCRYPTED", `${name} is encrypted`, where);
  }
  checkFileType(entry, name);
  const directory = name.endsWith("/");
  const path = directory ? name.slice(0, -1) : name;
  const reason = unsafePathReason(path);
  if (reason !== undefined) {
    throw new CustodyError("ERR_UNSAFE_PATH", `entry ${JSON.stringify(name)} is unsafe: ${reason}`, where);
  }
  const method = entry.compressionMethod;
  if (method !== METHOD_STORE && method !== METHOD_DEFLATE) {
    throw new CustodyError(
      "ERR_ARCHIVE_UNSUPPORTED_METHOD",
      `${name} uses compression method ${method}`,
      where,
    );
  }
  const size = entry.uncompressedSize;
  const compressedSize = entry.compressedSize;
  if ((method === METHOD_STORE && size !== compressedSize) || (directory && size !== 0)) {
    throw new CustodyError(
      "ERR_ARCHIVE_SIZE_MISMATCH",
      `${name} declares ${size} bytes stored in ${compressedSize}`,
      where,
    );
  }
  if (size > limits.maxEntryBytes) {
    throw limit(`${name} declares ${size} bytes; the limit is ${limits.maxEntryBytes}`, name);
  }
  if (size > limits.ratioFloorBytes && size / Math.max(compressedSize, 1) > limits.maxCompressionRatio) {
    throw limit(
      `${name} would expand ${Math.round(size / Math.max(compressedSize, 1))}×; the limit is ${limits.maxCompressionRatio}×`,
      name,
    );
  }
  return {
    name: path,
    directory,
    method: method === METHOD_STORE ? "store" : "deflate",
    size,
    compressedSize,
    crc32: entry.crc32,
    localHeaderOffset: entry.relativeOffsetOfLocalHeader,
  };
}

/**
 * Names must be UTF-8: flagged, or unflagged as Info-ZIP writes them on Unix; anything else (CP437
 * guesses) is refused. An Info-ZIP Unicode Path field (0x7075) is accepted only when it repeats the raw
 * name: tools that honour it and tools that ignore it must extract the same file.
 */
function decodeName(entry: Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  checkUnicodePaths(entry.extraFields, raw, "central directory");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch (cause) {
    throw new CustodyError("ERR_UNSAFE_PATH", "an entry name is not valid UTF-8", {
      cause,
      details: { raw: raw.toString("hex") },
    });
  }
}

const EXTRA_UNICODE_PATH = 0x7075;

/** Refuses a Unicode Path field (central or local) that is unreadable, stale, or names another file. */
export function checkUnicodePaths(
  fields: readonly { id: number; data: Buffer }[],
  raw: Buffer,
  where: string,
): void {
  for (const { id, data } of fields) {
    if (id !== EXTRA_UNICODE_PATH) continue;
    const reason =
      data.length < 5 || data[0] !== 1
        ? "cannot be read"
        : data.readUInt32LE(1) !== crc32(raw) >>> 0
          ? "is stale (its CRC-32 is not the raw name's)"
          : data.subarray(5).equals(raw)
            ? undefined
            : `names ${JSON.stringify(data.subarray(5).toString("utf8"))}, not the raw name`;
    if (reason !== undefined) {
      const name = raw.toString("utf8");
      throw new CustodyError(
        "ERR_UNSAFE_PATH",
        `${name}: the Unicode Path field in the ${where} ${reason}; tools would disagree on the file's name`,
        { details: { path: name } },
      );
    }
  }
}

/** Only regular files and directories: a link or device inside evidence is refused, never recreated. */
function checkFileType(entry: Entry, name: string): void {
  const host = entry.versionMadeBy >> 8;
  const attributes = entry.externalFileAttributes >>> 0;
  if (host === HOST_UNIX || host === HOST_MACOS) {
    const type = (attributes >>> 16) & S_IFMT;
    if (type === S_IFLNK)
      throw new CustodyError("ERR_ARCHIVE_SYMLINK", `${name} is a symbolic link`, {
        details: { path: name },
      });
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
      throw new CustodyError(
        "ERR_ARCHIVE_MALFORMED",
        `${name} is a special file (mode ${type.toString(8)})`,
        { details: { path: name } },
      );
    }
  }
  if (attributes & DOS_REPARSE_POINT) {
    throw new CustodyError("ERR_ARCHIVE_SYMLINK", `${name} is a reparse point (a Windows link)`, {
      details: { path: name },
    });
  }
}

/**
 * Tracks names and totals across entries: exact, case- or Unicode-folded duplicates, file/folder clashes
 * and one folder spelled two ways.
 */
export class EntrySet {
  #files = new Map<string, string>();
  #folders = new Map<string, string>();
  #explicitFolders = new Set<string>();
  #total = 0;

  constructor(private readonly limits: Required<ArchiveLimits>) {}

  add(entry: ArchiveEntry): void {
    const key = pathCollisionKey(entry.name);
    const clash = entry.directory
      ? (this.#files.get(key) ?? (this.#explicitFolders.has(key) ? this.#folders.get(key) : undefined))
      : (this.#files.get(key) ?? this.#folders.get(key));
    if (clash !== undefined) throw duplicate(entry.name, clash);
    const segments = key.split("/");
    const spelled = entry.name.split("/");
    for (let depth = 1; depth <= segments.length; depth++) {
      if (depth === segments.length && !entry.directory) break;
      this.#claimFolder(segments.slice(0, depth).join("/"), spelled.slice(0, depth).join("/"), entry);
    }
    if (entry.directory) this.#explicitFolders.add(key);
    else this.#files.set(key, entry.name);
    this.#total += entry.size;
    if (this.#total > this.limits.maxTotalBytes) {
      throw limit(`the entries declare more than ${this.limits.maxTotalBytes} bytes in all`, entry.name);
    }
  }

  /** One folder, one spelling: "Data/" and "data/" are one folder on Windows and macOS, two elsewhere. */
  #claimFolder(key: string, spelling: string, entry: ArchiveEntry): void {
    const file = this.#files.get(key);
    if (file !== undefined) throw duplicate(entry.name, file);
    const earlier = this.#folders.get(key);
    if (earlier === undefined) this.#folders.set(key, spelling);
    else if (earlier !== spelling) throw duplicate(entry.name, earlier);
  }
}

function duplicate(path: string, earlier: string): CustodyError {
  return new CustodyError("ERR_DUPLICATE_PATH", `${path} collides with ${earlier} in the archive`, {
    details: { path, earlier },
  });
}

function limit(message: string, path: string): CustodyError {
  return new CustodyError("ERR_ARCHIVE_LIMIT", message, { details: { path } });
}
