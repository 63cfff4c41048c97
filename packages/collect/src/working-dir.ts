import { closeSync, constants, existsSync, openSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

// Node has no fstatat(2): a name looked up through /proc/self/fd/<n>/<name> costs the kernel five more
// path components (two of them procfs lookups) than the name alone, about half of a listing's lstat.
// A synchronous stretch of a walk may instead make the opened folder the process's working folder,
// through the same /proc link (so the very folder that was opened, whatever was renamed or swapped
// since), look bare names up there, and go back before any other code runs. Only the main thread may
// chdir; without /proc there is no link to go through.
const SUPPORTED = process.platform === "linux" && isMainThread && existsSync("/proc/self/fd");
const HOME_FLAGS = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0);

let inside: object | undefined;

/** Whether `key`'s folder is the working folder now, so its entries may be looked up by bare name. */
export function isWorkingDir(key: object): boolean {
  return inside === key;
}

/**
 * Runs `fn` (which must not await) with the folder `fdPath` links to as the working folder, recorded
 * under `key`, and returns to the folder it started from whatever `fn` does. Where that cannot be done
 * (another thread, no /proc, a working folder that cannot be reopened, a folder that cannot be entered)
 * `fn` runs where it is and `key`'s lookups keep going through /proc.
 */
export function withWorkingDir<T>(key: object, fdPath: string, fn: () => T): T {
  if (!SUPPORTED || inside !== undefined) return fn();
  let home: number;
  try {
    home = openSync(".", HOME_FLAGS);
  } catch {
    return fn();
  }
  try {
    try {
      process.chdir(fdPath);
    } catch {
      return fn();
    }
    inside = key;
    try {
      return fn();
    } finally {
      inside = undefined;
      // Back into the very folder the process was in, even if it was renamed meanwhile.
      process.chdir(`/proc/self/fd/${home}`);
    }
  } finally {
    closeSync(home);
  }
}
