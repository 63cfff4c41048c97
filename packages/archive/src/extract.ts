import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, rm } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import { openPackageReader, type PackageEntry, type PackageReader } from "./package-reader.js";
import {
  type ActualDigests,
  type PackageReport,
  problemsError,
  type VerifyOptions,
  verifyOpened,
} from "./verify.js";

export type ExtractOptions = VerifyOptions;

// O_EXCL refuses an existing name and O_NOFOLLOW a link planted in its place: nothing outside is touched.
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Verifies the package, then (only if everything holds) writes it under `dir/<package name>/`. The
 * target must be empty or absent; links are never followed nor created; every file's sha256 is
 * checked again as it is written, and a failure removes what was written.
 */
export async function extractPackage(
  file: string,
  dir: string,
  options: ExtractOptions,
): Promise<PackageReport> {
  const target = resolve(dir);
  await checkTarget(target);
  const reader = await openPackageReader(
    file,
    options.limits === undefined ? {} : { limits: options.limits },
  );
  try {
    const { report, actual } = await verifyOpened(reader, file, options);
    if (!report.ok) throw problemsError(report);
    await checkTarget(target);
    await mkdir(target, { recursive: true });
    const root = join(target, reader.name);
    try {
      await writeAll(reader, root, actual, options.abortSignal);
    } catch (error) {
      await rm(root, { recursive: true, force: true });
      throw toCustodyError(error, "ERR_IO", `extracting ${file} failed; nothing was left in ${dir}`);
    }
    return report;
  } finally {
    await reader.close();
  }
}

async function checkTarget(target: string): Promise<void> {
  const stats = await lstat(target).catch(() => undefined);
  if (stats === undefined) return;
  if (!stats.isDirectory()) {
    throw new CustodyError("ERR_TARGET_NOT_EMPTY", `${target} exists and is not a folder`, {
      details: { path: target },
    });
  }
  if ((await readdir(target)).length > 0) {
    throw new CustodyError(
      "ERR_TARGET_NOT_EMPTY",
      `${target} is not empty; extract into a new or empty folder`,
      { details: { path: target } },
    );
  }
}

async function writeAll(
  reader: PackageReader,
  root: string,
  verified: ActualDigests,
  abortSignal?: AbortSignal,
): Promise<void> {
  const made = new Set<string>();
  await makeFolder(root, made);
  for (const entry of reader.entries) {
    throwIfAborted(abortSignal);
    const path = resolve(root, entry.path);
    if (!path.startsWith(root + sep))
      throw new CustodyError("ERR_UNSAFE_PATH", `${entry.path} escapes the target`);
    const segments = entry.path.split("/");
    let folder = root;
    for (const segment of segments.slice(0, -1)) {
      folder = join(folder, segment);
      await makeFolder(folder, made);
    }
    const sha256 = await writeEntry(reader, entry, path);
    // Every file, tag files included, must hash now to what verification saw: the archive cannot
    // change between the two reads unnoticed.
    if (verified.get(entry.path)?.sha256 !== sha256) {
      throw new CustodyError(
        "ERR_INTEGRITY_MISMATCH",
        `${entry.path} changed between verification and extraction`,
        {
          details: { path: entry.path },
        },
      );
    }
  }
}

/** Creates one folder level (never through a link) unless this extraction already made it. */
async function makeFolder(path: string, made: Set<string>): Promise<void> {
  if (made.has(path)) return;
  await mkdir(path, { mode: 0o755 });
  made.add(path);
}

async function writeEntry(reader: PackageReader, entry: PackageEntry, path: string): Promise<string> {
  const handle = await open(path, CREATE_FLAGS, 0o644);
  const hash = createHash("sha256");
  try {
    for await (const chunk of reader.open(entry)) {
      const data = chunk as Buffer;
      hash.update(data);
      for (let done = 0; done < data.length; ) done += (await handle.write(data, done)).bytesWritten;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}
