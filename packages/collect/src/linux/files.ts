import { join } from "node:path";
import { CustodyError } from "@custody/core";
import type { ReadOptions } from "../safe-fs.js";
import type { CollectContext } from "../types.js";
import { segment } from "./accounts.js";

/** Sorted entry names, or undefined when the folder is absent or refused (the refusal is recorded). */
export async function listNames(
  ctx: CollectContext,
  dir: string,
  options?: ReadOptions,
): Promise<string[] | undefined> {
  const listed = await ctx.fs.list(dir, options);
  return listed.kind === "listed" ? listed.names : undefined;
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
  options?: ReadOptions,
): Promise<CopiedEntry[]> {
  const scope = options?.scope ?? dir;
  const names = await listNames(ctx, dir, { scope });
  const out: CopiedEntry[] = [];
  for (const name of names ?? []) {
    if (!filter(name)) continue;
    out.push(await copyOne(ctx, `${relDir}/${segment(name)}`, join(dir, name), { ...options, scope }));
  }
  return out;
}

/**
 * Copies one file when it is a regular file; reports what it found either way. A symlink on the way
 * below `options.scope` is never followed: the entry says ERR_UNSAFE_PATH.
 */
export async function copyOne(
  ctx: CollectContext,
  relPath: string,
  abs: string,
  options: ReadOptions = {},
): Promise<CopiedEntry> {
  const found = await ctx.fs.lstat(abs, options);
  if (found.kind !== "stat")
    return {
      source: abs,
      kind: "other",
      target: "",
      status: found.kind === "absent" ? "absent" : found.code,
      bytes: 0,
    };
  const info = found.stats;
  if (info.isSymbolicLink() && options.followWithin === undefined) {
    return {
      source: abs,
      kind: "symlink",
      target: (await ctx.fs.readlink(abs, options)) ?? "?",
      status: "listed",
      bytes: 0,
    };
  }
  if (!info.isFile() && !info.isSymbolicLink())
    return { source: abs, kind: "other", target: "", status: "listed", bytes: 0 };
  const result = await ctx.emitFile(relPath, abs, { source: abs, ...options });
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
