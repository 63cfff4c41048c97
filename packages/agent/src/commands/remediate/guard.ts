import { realpath } from "node:fs/promises";
import { posix } from "node:path";
import { CustodyError } from "@custody/core";
import type { AgentPolicy } from "../../policy-types.js";
import { checkedPath } from "../paths.js";

/** Never removed or rewritten unless the device's policy lists its own `remediation.protect`. */
export const DEFAULT_PROTECTED_PATHS = [
  "/bin",
  "/sbin",
  "/lib",
  "/lib64",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/lib64",
  "/usr/libexec",
  "/boot",
  "/etc/passwd",
  "/etc/group",
  "/etc/sudoers",
  "/etc/fstab",
  "/etc/custody-agent",
];

export function refused(message: string, details: Record<string, unknown> = {}): CustodyError {
  return new CustodyError("ERR_REMEDIATION_REFUSED", message, { details });
}

export interface Guard {
  policy: AgentPolicy;
  /** The system root (realpath), "/" on a real device. */
  root: string;
  /** Paths this agent itself lives in (its folder, its policy, its program): never touched. */
  own: readonly string[];
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);
}

/** A target as typed: absolute, no `.`/`..` component, no NUL (refused before anything is resolved). */
export function plainAbsolute(input: string, what: string): string {
  if (!posix.isAbsolute(input) || input.includes("\0"))
    throw refused(`${what} must be an absolute path`, { target: input });
  const parts = input.split("/");
  if (parts.some((part) => part === ".." || part === "."))
    throw refused(`${input}: '.' and '..' are refused in a remediation target`, { target: input });
  return posix.normalize(input);
}

/** Where a device path (`/etc/cron.d/x`) is on disk: under the policy's system root. */
export function onDisk(guard: Guard, devicePath: string): string {
  return guard.root === "/" ? devicePath : posix.join(guard.root, devicePath);
}

/**
 * The checks before a file is removed or rewritten: the policy's deny list (ERR_AGENT_POLICY), the
 * protected paths and the agent's own files, and no symlink anywhere on the way (the parent folder's
 * real path must be the path itself), so a link cannot point a remediation somewhere else.
 */
export async function checkRemovable(guard: Guard, path: string): Promise<void> {
  await checkedPath(path, null, guard.policy);
  const protect = guard.policy.remediation?.protect ?? DEFAULT_PROTECTED_PATHS;
  const logical = guard.root !== "/" && under(path, guard.root) ? path.slice(guard.root.length) || "/" : path;
  const hit = [
    ...protect.flatMap((p) => [[p, logical] as const, [p, path] as const]),
    ...guard.own.map((p) => [p, path] as const),
  ].find(([prefix, candidate]) => under(candidate, prefix));
  if (hit !== undefined)
    throw refused(`${path} is protected on this device (${hit[0]}); it is never removed`, {
      path,
      protected: hit[0],
    });
  const parent = posix.dirname(path);
  const real = await realpath(parent).catch(() => undefined);
  if (real !== parent)
    throw refused(`${path} goes through a symlink or a missing folder (${parent} is ${real ?? "missing"})`, {
      path,
    });
}

/** Whether a path is inside one of `locations` (device paths, with `*` for one component). */
export function inLocations(path: string, locations: readonly string[]): boolean {
  return locations.some((location) => {
    const want = location.split("/");
    const have = path.split("/");
    if (have.length !== want.length + 1) return false;
    return want.every((part, index) => part === "*" || part === have[index]);
  });
}
