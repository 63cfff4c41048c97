import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { codeForErrno, errnoOf } from "../safe-fs.js";
import type { CollectContext } from "../types.js";
import { segment } from "./accounts.js";

/** Directory entries, or undefined when the folder is absent; denial is recorded on the context. */
export async function listNames(ctx: CollectContext, dir: string): Promise<string[] | undefined> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    const errno = errnoOf(error);
    if (errno !== "ENOENT" && errno !== "ENOTDIR") ctx.problem(dir, codeForErrno(errno), errno);
    return undefined;
  }
}

export interface CopiedEntry {
  source: string;
  kind: "file" | "symlink" | "other";
  target: string;
  status: string;
  bytes: number;
}

/**
 * Copies the regular files directly in `dir` to `<relDir>/<name>`; symlinks and other entries are
 * listed (with their target), never followed.
 */
export async function copyDir(
  ctx: CollectContext,
  relDir: string,
  dir: string,
  filter: (name: string) => boolean = () => true,
): Promise<CopiedEntry[]> {
  const names = await listNames(ctx, dir);
  const out: CopiedEntry[] = [];
  for (const name of names ?? []) {
    if (!filter(name)) continue;
    out.push(await copyOne(ctx, `${relDir}/${segment(name)}`, join(dir, name)));
  }
  return out;
}

/** Copies one file when it is a regular file; reports what it found either way. */
export async function copyOne(
  ctx: CollectContext,
  relPath: string,
  abs: string,
  followWithin?: readonly string[],
): Promise<CopiedEntry> {
  const info = await lstat(abs).catch((error: unknown) => errnoOf(error));
  if (typeof info === "string")
    return {
      source: abs,
      kind: "other",
      target: "",
      status: info === "ENOENT" ? "absent" : codeForErrno(info),
      bytes: 0,
    };
  if (info.isSymbolicLink() && followWithin === undefined) {
    return {
      source: abs,
      kind: "symlink",
      target: await readlink(abs).catch(() => "?"),
      status: "listed",
      bytes: 0,
    };
  }
  if (!info.isFile() && !info.isSymbolicLink())
    return { source: abs, kind: "other", target: "", status: "listed", bytes: 0 };
  const result = await ctx.emitFile(relPath, abs, { source: abs, ...(followWithin ? { followWithin } : {}) });
  switch (result.kind) {
    case "written":
      return {
        source: abs,
        kind: "file",
        target: result.path,
        status: result.truncated ? "truncated" : "copied",
        bytes: result.bytes,
      };
    case "absent":
      return { source: abs, kind: "file", target: "", status: "absent", bytes: 0 };
    case "unreadable":
      return { source: abs, kind: "file", target: "", status: result.code, bytes: 0 };
  }
}

export const COPIED_COLUMNS = ["source", "kind", "target", "status", "bytes"] as const;

/** The ERR_NOT_PRESENT a collector throws when none of its sources exists on this machine. */
export function nothingPresent(ctx: CollectContext, what: string): never {
  throw new CustodyError("ERR_NOT_PRESENT", `${ctx.dataPoint}: ${what} not present on this machine`);
}

/** `raw/<abs path>` with every segment made safe for the package. */
export function rawPath(abs: string, prefix = "raw"): string {
  return [
    prefix,
    ...abs
      .split("/")
      .filter((s) => s !== "")
      .map(segment),
  ].join("/");
}
