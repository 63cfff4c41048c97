import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { readSmallText } from "../safe-fs.js";

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
export async function scanUnits(suffixes: readonly string[]): Promise<UnitFile[]> {
  const units = new Map<string, UnitFile>();
  const enabledBy = new Map<string, string[]>();
  for (const dir of UNIT_DIRS) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = join(dir, name);
      if (/\.(wants|requires|upholds)$/.test(name)) {
        for (const link of await readdir(path).catch(() => [] as string[])) {
          enabledBy.set(link, [...(enabledBy.get(link) ?? []), path]);
        }
        continue;
      }
      if (!suffixes.some((s) => name.endsWith(s)) || units.has(name)) continue;
      units.set(name, await readUnit(name, path));
    }
  }
  return [...units.values()].map((u) => ({ ...u, enabledBy: enabledBy.get(u.name) ?? [] }));
}

async function readUnit(name: string, path: string): Promise<UnitFile> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) {
    const target = await readlink(path).catch(() => "");
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
    settings: parseUnit((await readSmallText(path, 1024 * 1024)) ?? ""),
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
export async function activeUnits(): Promise<Set<string>> {
  const names = await readdir("/run/systemd/units").catch(() => [] as string[]);
  return new Set(names.filter((n) => n.startsWith("invocation:")).map((n) => n.slice("invocation:".length)));
}

/** The pids in a service's cgroup (cgroup v2 layout), empty when not running or not v2. */
export async function unitPids(unit: string): Promise<string> {
  for (const slice of ["system.slice", "user.slice"]) {
    const text = await readSmallText(`/sys/fs/cgroup/${slice}/${unit}/cgroup.procs`);
    if (text !== undefined) return text.trim().split("\n").filter(Boolean).join(" ");
  }
  return "";
}

/** When a persistent timer last fired: the mtime of its stamp file. */
export async function timerLastRun(timer: string): Promise<string> {
  for (const dir of ["/var/lib/systemd/timers"]) {
    const info = await stat(join(dir, `stamp-${timer}`)).catch(() => undefined);
    if (info) return info.mtime.toISOString();
  }
  return "";
}
