import type { Readable } from "node:stream";
import { CustodyError } from "@custody/core";
import type { ArchiveEntry, ArchiveLimits } from "./zip/entry-checks.js";
import { openArchive, type StoredSpan, WHOLE_LIMIT } from "./zip/reader.js";

export interface PackageReaderLimits extends ArchiveLimits {
  /** Largest tag file (manifests, bag-info, signature) read into memory (default 256 MiB). */
  maxTagFileBytes?: number;
}

export interface PackageEntry {
  /** Bag-relative path: "data/…", "bagit.txt", … */
  path: string;
  size: number;
  compressedSize: number;
  method: "store" | "deflate";
}

/** A package opened for reading: its structure already checked, nothing extracted. */
export interface PackageReader {
  /** The top-level folder: the package's name. */
  readonly name: string;
  /** Files of the bag (folders left out), in archive order. */
  readonly entries: readonly PackageEntry[];
  get(path: string): PackageEntry | undefined;
  /** The entry's bytes, checked against the declared size and CRC-32 as they stream. */
  open(entry: PackageEntry): Readable;
  /** An entry read whole (tag files, small payload files), refused past `maxTagFileBytes`. */
  readSmall(entry: PackageEntry): Promise<Buffer>;
  /**
   * A stored (not deflated) entry's bytes through one reused buffer, each chunk handed to `update`
   * synchronously (valid only during the call), with the same size and CRC-32 checks; false for a
   * deflated entry. No garbage per chunk: memory stays flat however large the entry.
   */
  scanStored(entry: PackageEntry, update: (chunk: Buffer) => void): Promise<boolean>;
  /** Where a stored entry's bytes lie in the package file (see `ArchiveReader.storedSpan`). */
  storedSpan(entry: PackageEntry): StoredSpan | undefined;
  close(): Promise<void>;
}

const DEFAULT_MAX_TAG_BYTES = 256 * 1024 * 1024;

/**
 * Opens an investigation package with the safe ZIP reader and checks its shape: every entry inside one
 * top-level folder (RFC 8493 §4.2). A hostile or malformed archive is refused with a coded error.
 */
export async function openPackageReader(
  file: string,
  options: { limits?: PackageReaderLimits } = {},
): Promise<PackageReader> {
  const archive = await openArchive(file, options.limits === undefined ? {} : { limits: options.limits });
  try {
    const root = packageRoot(archive.entries);
    const byPath = new Map<string, { entry: PackageEntry; raw: ArchiveEntry }>();
    for (const raw of archive.entries) {
      if (raw.directory) {
        checkFolder(raw.name, root);
        continue;
      }
      const path = raw.name.slice(root.length + 1);
      const { size, compressedSize, method } = raw;
      byPath.set(path, { entry: { path, size, compressedSize, method }, raw });
    }
    const maxTag = options.limits?.maxTagFileBytes ?? DEFAULT_MAX_TAG_BYTES;
    const lookup = (entry: PackageEntry) => {
      const found = byPath.get(entry.path);
      if (found === undefined) throw new CustodyError("ERR_NOT_FOUND", `${entry.path} is not in the package`);
      return found.raw;
    };
    return {
      name: root,
      entries: [...byPath.values()].map((item) => item.entry),
      get: (path) => byPath.get(path)?.entry,
      open: (entry) => archive.openEntry(lookup(entry)),
      scanStored: (entry, update) => archive.scanStored(lookup(entry), update),
      storedSpan: (entry) => archive.storedSpan(lookup(entry)),
      readSmall: async (entry) => {
        if (entry.size > maxTag) {
          throw new CustodyError(
            "ERR_ARCHIVE_LIMIT",
            `${entry.path} is ${entry.size} bytes; tag files are read up to ${maxTag}`,
            {
              details: { path: entry.path },
            },
          );
        }
        const raw = lookup(entry);
        if (raw.size <= WHOLE_LIMIT && raw.compressedSize <= WHOLE_LIMIT) return archive.readWhole(raw);
        const chunks: Buffer[] = [];
        for await (const chunk of archive.openEntry(raw)) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
      close: () => archive.close(),
    };
  } catch (error) {
    await archive.close();
    throw error;
  }
}

function packageRoot(entries: readonly ArchiveEntry[]): string {
  const first = entries.find((entry) => !entry.directory) ?? entries[0];
  const root = first?.name.split("/")[0];
  if (root === undefined) throw new CustodyError("ERR_PACKAGE_INVALID", "the archive is empty");
  for (const entry of entries) {
    const inside = entry.name.startsWith(`${root}/`);
    if (!inside && !(entry.directory && entry.name === root)) {
      throw new CustodyError(
        "ERR_PACKAGE_INVALID",
        `${entry.name} is outside the package folder ${root}/: a package holds one top-level folder`,
        {
          details: { path: entry.name },
        },
      );
    }
  }
  return root;
}

/** Folders are the package's own, data/ and those under it; any other would be a folder nobody signed. */
function checkFolder(name: string, root: string): void {
  const path = name.slice(root.length + 1);
  if (name === root || path === "data" || path.startsWith("data/")) return;
  throw new CustodyError("ERR_PACKAGE_INVALID", `${name}/ is a folder outside data/: a package holds none`, {
    details: { path: name },
  });
}
