import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { posix } from "node:path";
import { CustodyError } from "@custody/core";
import { resolvePath } from "../paths.js";
import { checkRemovable, type Guard, inLocations, onDisk, plainAbsolute, refused } from "./guard.js";

/** What a remediation will do, all of it checked before the first change. */
export type Operation =
  | { kind: "delete"; path: string }
  | { kind: "rewrite"; path: string; line: number }
  | { kind: "kill"; pid: number; image: string | undefined }
  | { kind: "systemctl"; verb: "stop" | "disable" | "daemon-reload"; unit: string }
  | { kind: "unlink"; path: string; linkTarget: string };

export const REMEDIATION_TYPES = ["file", "process", "service", "scheduledtask", "startupitem"] as const;
export type RemediationType = (typeof REMEDIATION_TYPES)[number];

const UNIT_DIRS = [
  "/etc/systemd/system",
  "/run/systemd/system",
  "/lib/systemd/system",
  "/usr/lib/systemd/system",
];
const CRON_FILES = [
  "/etc/cron.d",
  "/etc/cron.hourly",
  "/etc/cron.daily",
  "/etc/cron.weekly",
  "/etc/cron.monthly",
  "/var/spool/cron/crontabs",
  "/var/spool/cron",
];
const AUTOSTART = ["/etc/xdg/autostart", "/home/*/.config/autostart", "/root/.config/autostart"];
const INIT_FILES = new Set([".bashrc", ".profile", ".bash_profile", ".bash_login", ".zshrc", ".zprofile"]);
const SYSTEM_INIT = new Set(["/etc/profile", "/etc/bash.bashrc", "/etc/zsh/zshrc", "/etc/zsh/zprofile"]);

/** `PATH:N` names line N of a file (1-based); a bare path names the whole file. */
function splitLine(target: string): { path: string; line: number | undefined } {
  const match = /^(.*):([1-9][0-9]{0,6})$/.exec(target);
  return match === null
    ? { path: target, line: undefined }
    : { path: match[1] as string, line: Number(match[2]) };
}

async function regularFile(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined)
    throw new CustodyError("ERR_NOT_FOUND", `${path} does not exist`, { details: { path } });
  if (stats.isSymbolicLink())
    throw refused(`${path} is a symlink; remediation does not follow links`, { path });
  if (!stats.isFile()) throw refused(`${path} is not a regular file`, { path });
}

async function removable(guard: Guard, path: string): Promise<string> {
  await checkRemovable(guard, path);
  await regularFile(path);
  return path;
}

async function filePlan(guard: Guard, target: string, cwd: string | null): Promise<Operation[]> {
  if (target.split("/").some((part) => part === ".." || part === "."))
    throw refused(`${target}: '.' and '..' are refused in a remediation target`, { target });
  const path = resolvePath(target, cwd);
  return [{ kind: "delete", path: await removable(guard, path) }];
}

function parsePid(target: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(target)) throw refused(`${target} is not a process id`, { target });
  const pid = Number(target);
  if (pid === 1 || pid === process.pid || pid === process.ppid)
    throw refused(`process ${pid} is init or this agent; it is never stopped`, { pid });
  return pid;
}

async function processPlan(guard: Guard, target: string): Promise<Operation[]> {
  const pid = parsePid(target);
  const exe = await readlink(`/proc/${pid}/exe`).catch((cause: unknown) => {
    const code = (cause as { code?: string }).code;
    if (code === "ENOENT") throw new CustodyError("ERR_NOT_FOUND", `no process ${pid}`, { details: { pid } });
    throw refused(`the image of process ${pid} cannot be read (${code ?? "?"})`, { pid });
  });
  // an image already deleted from disk has nothing left to quarantine there
  if (exe.endsWith(" (deleted)")) return [{ kind: "kill", pid, image: undefined }];
  const image = await removable(guard, exe);
  return [
    { kind: "kill", pid, image },
    { kind: "delete", path: image },
  ];
}

function unitName(target: string, suffix: ".service" | ".timer"): string {
  const name = target.includes(".") ? target : `${target}${suffix}`;
  if (!/^[A-Za-z0-9:_.@-]{1,200}$/.test(name) || !name.endsWith(suffix))
    throw refused(`${target} is not a ${suffix.slice(1)} unit name`, { target });
  return name;
}

async function unitFile(guard: Guard, unit: string): Promise<string> {
  for (const dir of UNIT_DIRS) {
    const path = onDisk(guard, posix.join(dir, unit));
    if ((await lstat(path).catch(() => undefined)) !== undefined) return path;
  }
  throw new CustodyError("ERR_NOT_FOUND", `no unit file for ${unit}`, { details: { unit } });
}

/** The program a unit starts: ExecStart's first word, without systemd's prefixes (`-@:+!`). */
async function unitImage(guard: Guard, path: string): Promise<string | undefined> {
  const text = await readFile(path, "utf8");
  const line = text.split("\n").find((l) => /^\s*ExecStart\s*=/.test(l));
  const program = line
    ?.split("=")
    .slice(1)
    .join("=")
    .trim()
    .replace(/^[-@:+!]+/, "")
    .split(/\s+/)[0];
  if (program === undefined || !posix.isAbsolute(program)) return undefined;
  return onDisk(guard, plainAbsolute(program, "ExecStart"));
}

/** Enablement links of a unit (`*.wants/UNIT`, `*.requires/UNIT` under /etc/systemd/system). */
async function enablementLinks(guard: Guard, unit: string): Promise<Operation[]> {
  const base = onDisk(guard, "/etc/systemd/system");
  const dirs = await readdir(base).catch(() => [] as string[]);
  const links: Operation[] = [];
  for (const dir of dirs.filter((d) => d.endsWith(".wants") || d.endsWith(".requires"))) {
    const path = posix.join(base, dir, unit);
    const stats = await lstat(path).catch(() => undefined);
    if (stats?.isSymbolicLink() !== true) continue;
    await checkRemovable(guard, path);
    links.push({ kind: "unlink", path, linkTarget: await readlink(path) });
  }
  return links;
}

async function unitPlan(guard: Guard, unit: string, withImage: boolean): Promise<Operation[]> {
  const file = await removable(guard, await unitFile(guard, unit));
  const ops: Operation[] = [
    { kind: "systemctl", verb: "stop", unit },
    { kind: "systemctl", verb: "disable", unit },
    ...(await enablementLinks(guard, unit)),
    { kind: "delete", path: file },
  ];
  const image = withImage ? await unitImage(guard, file) : undefined;
  if (image !== undefined && (await lstat(image).catch(() => undefined)) !== undefined)
    ops.push({ kind: "delete", path: await removable(guard, image) });
  ops.push({ kind: "systemctl", verb: "daemon-reload", unit });
  return ops;
}

async function scheduledPlan(guard: Guard, target: string): Promise<Operation[]> {
  if (!target.startsWith("/")) return unitPlan(guard, unitName(target, ".timer"), false);
  const { path, line } = splitLine(target);
  const device = plainAbsolute(path, "a cron file");
  const allowed =
    line === undefined
      ? inLocations(device, CRON_FILES)
      : inLocations(device, CRON_FILES) || device === "/etc/crontab";
  if (!allowed)
    throw refused(`${device} is not a cron file (${CRON_FILES.join(", ")}, /etc/crontab:LINE)`, { target });
  const file = await removable(guard, onDisk(guard, device));
  return [line === undefined ? { kind: "delete", path: file } : { kind: "rewrite", path: file, line }];
}

function isInitFile(device: string): boolean {
  if (SYSTEM_INIT.has(device)) return true;
  const name = posix.basename(device);
  return INIT_FILES.has(name) && inLocations(device, ["/home/*", "/root"]);
}

async function startupPlan(guard: Guard, target: string): Promise<Operation[]> {
  const { path, line } = splitLine(target);
  const device = plainAbsolute(path, "a startup item");
  const desktop = inLocations(device, AUTOSTART) && device.endsWith(".desktop");
  const profileScript = inLocations(device, ["/etc/profile.d"]) && device.endsWith(".sh");
  if (line === undefined && !desktop && !profileScript)
    throw refused(
      `${device} is not an autostart entry (*.desktop in ${AUTOSTART.join(", ")}) or /etc/profile.d/*.sh`,
      {
        target,
      },
    );
  if (line !== undefined && !isInitFile(device) && !profileScript)
    throw refused(`${device} is not a shell init file (${[...SYSTEM_INIT].join(", ")}, ~/.bashrc, ...)`, {
      target,
    });
  const file = await removable(guard, onDisk(guard, device));
  return [line === undefined ? { kind: "delete", path: file } : { kind: "rewrite", path: file, line }];
}

/** Checks the target and plans every step; nothing on the device changes here. */
export function planRemediation(
  guard: Guard,
  type: string,
  target: string,
  cwd: string | null,
): Promise<Operation[]> {
  switch (type as RemediationType) {
    case "file":
      return filePlan(guard, target, cwd);
    case "process":
      return processPlan(guard, target);
    case "service":
      return unitPlan(guard, unitName(target, ".service"), true);
    case "scheduledtask":
      return scheduledPlan(guard, target);
    case "startupitem":
      return startupPlan(guard, target);
    default:
      throw new CustodyError("ERR_USAGE", `remediate TYPE is one of ${REMEDIATION_TYPES.join(", ")}`, {
        details: { type },
      });
  }
}
