import { join } from "node:path";
import type { CollectFs } from "../safe-fs.js";

type Reads = { fs: CollectFs };

// Unit search path in systemd's precedence order (earlier wins).
export const UNIT_DIRS = [
  "/etc/systemd/system",
  "/run/systemd/system",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
];

export interface UnitFile {
  name: string;
  path: string;
  /** "masked" when linked to /dev/null; "alias" when a symlink to another unit. */
  kind: "file" | "alias" | "masked";
  target: string;
  /** Which .wants/.requires folders enable it. */
  enabledBy: string[];
  settings: Map<string, string>;
}

/** Every unit (first found per name wins), with its enablement links and main settings. */
export async function scanUnits(ctx: Reads, suffixes: readonly string[]): Promise<UnitFile[]> {
  const units = new Map<string, UnitFile>();
  const enabledBy = new Map<string, string[]>();
  for (const dir of UNIT_DIRS) {
    for (const name of await names(ctx, dir, dir)) {
      const path = join(dir, name);
      if (/\.(wants|requires|upholds)$/.test(name)) {
        // A .wants folder that is itself a symlink is refused (and recorded), not followed.
        for (const link of await names(ctx, path, dir)) {
          enabledBy.set(link, [...(enabledBy.get(link) ?? []), path]);
        }
        continue;
      }
      if (!suffixes.some((s) => name.endsWith(s)) || units.has(name)) continue;
      const unit = await readUnit(ctx, name, path);
      if (unit !== undefined) units.set(name, unit);
    }
  }
  return [...units.values()].map((u) => ({ ...u, enabledBy: enabledBy.get(u.name) ?? [] }));
}

async function names(ctx: Reads, dir: string, scope: string): Promise<string[]> {
  const listed = await ctx.fs.list(dir, { scope });
  return listed.kind === "listed" ? listed.names : [];
}

async function readUnit(ctx: Reads, name: string, path: string): Promise<UnitFile | undefined> {
  const found = await ctx.fs.lstat(path);
  if (found.kind !== "stat") return undefined;
  if (found.stats.isSymbolicLink()) {
    const target = (await ctx.fs.readlink(path)) ?? "";
    return {
      name,
      path,
      kind: target === "/dev/null" ? "masked" : "alias",
      target,
      enabledBy: [],
      settings: new Map(),
    };
  }
  return {
    name,
    path,
    kind: "file",
    target: "",
    enabledBy: [],
    settings: parseUnit((await ctx.fs.readText(path, { maxBytes: 1024 * 1024 })) ?? ""),
  };
}

/** `Section.Key` to value (the last assignment wins, as in systemd; continuation lines joined). */
export function parseUnit(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = "";
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      section = header[1];
      continue;
    }
    const at = line.indexOf("=");
    if (at > 0) out.set(`${section}.${line.slice(0, at).trim()}`, line.slice(at + 1).trim());
  }
  return out;
}

/** Units with a running invocation (systemd >= 240 keeps one link per active unit). */
export async function activeUnits(ctx: Reads): Promise<Set<string>> {
  const links = await names(ctx, "/run/systemd/units", "/run/systemd/units");
  return new Set(links.filter((n) => n.startsWith("invocation:")).map((n) => n.slice("invocation:".length)));
}

/** The pids in a service's cgroup (cgroup v2 layout), empty when not running or not v2. */
export async function unitPids(ctx: Reads, unit: string): Promise<string> {
  for (const slice of ["system.slice", "user.slice"]) {
    const text = await ctx.fs.readText(`/sys/fs/cgroup/${slice}/${unit}/cgroup.procs`);
    if (text !== undefined) return text.trim().split("\n").filter(Boolean).join(" ");
  }
  return "";
}

/** When a persistent timer last fired: the mtime of its stamp file. */
export async function timerLastRun(ctx: Reads, timer: string): Promise<string> {
  const found = await ctx.fs.lstat(join("/var/lib/systemd/timers", `stamp-${timer}`));
  return found.kind === "stat" && found.stats.isFile() ? found.stats.mtime.toISOString() : "";
}
