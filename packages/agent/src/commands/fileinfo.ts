import { readlink, stat } from "node:fs/promises";
import { throwIfAborted, toCustodyError } from "@custody/core";
import { type HashAlgorithm, hashStream, resolveAlgorithms } from "@custody/hash";
import type { AgentPolicy } from "../policy-types.js";
import { reusedChunks } from "./file-chunks.js";
import { loadOwners, statFields } from "./owners.js";
import { checkedPath, fileType, lstatChecked, openRegular } from "./paths.js";

export interface FileInfoOptions {
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
  /** `-hash sha1,md5`: digests wanted beside sha256 (the default, and the one getfile is bound to). */
  hash?: string | undefined;
}

/** sha256, and whatever `-hash` names (ERR_UNSUPPORTED_ALGORITHM for a name custody does not hash). */
function fileinfoAlgorithms(hash: string | undefined): HashAlgorithm[] {
  const more = hash === undefined ? [] : hash.split(",").map((name) => name.trim());
  return resolveAlgorithms(["sha256", ...more.filter((name) => name !== "")]);
}

/**
 * lstat, then for a regular file one read that yields its sha256 (and the digests `-hash` asks for, in
 * the same read); a symlink is described with its target but not followed, a special file is described
 * but never opened.
 */
export async function fileInfo(input: string, options: FileInfoOptions): Promise<Record<string, unknown>> {
  const path = await checkedPath(input, options.cwd, options.policy);
  const algorithms = fileinfoAlgorithms(options.hash);
  const owners = await loadOwners();
  const linkStats = await lstatChecked(path);
  const type = fileType(linkStats);
  const row: Record<string, unknown> = { path, type, ...statFields(linkStats, owners) };
  if (type === "symlink") {
    row.linkTarget = await readlink(path).catch(() => null);
    row.targetType = await stat(path).then(fileType, () => "missing");
    return row;
  }
  if (type !== "file") return row;
  const { handle, stats } = await openRegular(path, options.policy);
  try {
    throwIfAborted(options.signal);
    const { size, digests } = await hashStream(reusedChunks(handle), {
      algorithms,
      abortSignal: options.signal,
    });
    const after = await handle.stat();
    // A file that grew, shrank or was rewritten during the read has no single digest to report.
    const changed = after.size !== size || after.mtimeMs !== stats.mtimeMs;
    return {
      ...row,
      ...statFields(stats, owners),
      size,
      ...digests,
      changedWhileReading: changed,
    };
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `reading ${path} failed`);
  } finally {
    await handle.close();
  }
}
