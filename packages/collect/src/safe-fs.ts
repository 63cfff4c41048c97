import type { Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { lstat } from "node:fs/promises";
import { basename, dirname, join, parse, relative, resolve, sep } from "node:path";
import { errnoOf } from "./errno.js";
import { isOnRemoteFs, isUnder } from "./remote-fs.js";
import { type ReadAbsent, type ReadRefused, refusedBy, SafeDir, unsafe } from "./safe-dir.js";

export { codeForErrno, errnoOf } from "./errno.js";
export { isOnRemoteFs, isUnder, parseRemoteMounts, remoteMountPoints } from "./remote-fs.js";
export type { ReadAbsent, ReadRefused } from "./safe-dir.js";
export { SafeDir } from "./safe-dir.js";

export interface ReadOptions {
  /**
   * The folder trusted as the start of the read (a user's home, /etc/cron.d): no symlink below it is
   * followed, and a symlink on the way to it must be root's. Default: the path's own folder.
   */
  scope?: string;
  /** Follow a symlink at the last step only when its target stays under one of these folders. */
  followWithin?: readonly string[];
}

type ScopeCheck = { kind: "checked"; dev: number; ino: number } | ReadAbsent | ReadRefused;

export type SafeOpen = { kind: "open"; handle: FileHandle } | ReadAbsent | ReadRefused;
export type SafeList = { kind: "listed"; names: string[] } | ReadAbsent | ReadRefused;
export type SafeStat = { kind: "stat"; stats: Stats } | ReadAbsent | ReadRefused;

/**
 * The one way collectors read the machine: every open, listing and stat walks from a trusted folder
 * one component at a time and never follows a symlink below it. Paths are the device's own (`/etc/x`);
 * `root` is where that tree is mounted here (`/`, or a folder in tests and for mounted images).
 */
export interface CollectFs {
  readonly root: string;
  openFile(path: string, options?: ReadOptions): Promise<SafeOpen>;
  readText(path: string, options?: ReadOptions & { maxBytes?: number }): Promise<string | undefined>;
  list(path: string, options?: ReadOptions): Promise<SafeList>;
  lstat(path: string, options?: ReadOptions): Promise<SafeStat>;
  readlink(path: string, options?: ReadOptions): Promise<string | undefined>;
  openDir(path: string, options?: ReadOptions): Promise<SafeDir | ReadAbsent | ReadRefused>;
}

/** `onRefused` hears every read refused (a symlink in the path, denial, a network filesystem). */
export function collectFs(
  root = "/",
  onRefused: (source: string, refused: ReadRefused) => void = () => {},
): CollectFs {
  const real = (path: string): string => (root === "/" ? path : join(root, path));
  const noted = async <T extends { kind: string }>(path: string, outcome: Promise<T>): Promise<T> => {
    const result = await outcome;
    if (result.kind === "refused") {
      const refused = result as unknown as ReadRefused;
      // Reasons name the device's paths, not where its tree is mounted here.
      onRefused(path, root === "/" ? refused : { ...refused, reason: refused.reason.split(root).join("") });
    }
    return result;
  };

  // A data point reads the same few folders many times: the way to each is checked once, and every
  // later open must find the very folder that was checked.
  const checked = new Map<string, Promise<ScopeCheck>>();
  const checkScope = async (scope: string): Promise<ScopeCheck> => {
    const refused = await checkTrustedChain(root, real(scope), scope);
    if (refused !== undefined) return refused;
    const dir = await SafeDir.openTrusted(real(scope));
    if (!(dir instanceof SafeDir)) return dir;
    try {
      if (await isOnRemoteFs(await dir.realPath())) return unsafe(scope, "on a network filesystem");
      return { kind: "checked", dev: dir.dev, ino: dir.ino };
    } finally {
      await dir.close();
    }
  };
  const openScope = async (scope: string): Promise<SafeDir | ReadAbsent | ReadRefused> => {
    const check = checked.get(scope) ?? checkScope(scope);
    checked.set(scope, check);
    const verdict = await check;
    if (verdict.kind !== "checked") {
      if (verdict.kind === "absent") checked.delete(scope); // it may appear later
      return verdict;
    }
    const dir = await SafeDir.openTrusted(real(scope));
    if (dir instanceof SafeDir && (dir.dev !== verdict.dev || dir.ino !== verdict.ino)) {
      await dir.close();
      return { kind: "refused", code: "ERR_CONFLICT", reason: `${scope}: replaced since it was checked` };
    }
    return dir;
  };

  const openDirAt = async (path: string, scope: string): Promise<SafeDir | ReadAbsent | ReadRefused> => {
    if (!isUnder(resolve(path), resolve(scope))) return unsafe(path, `outside its scope ${scope}`);
    let dir = await openScope(scope);
    for (const name of segments(relative(scope, path))) {
      if (!(dir instanceof SafeDir)) return dir;
      const next = await dir.openDir(name);
      if (next instanceof SafeDir && next.dev !== dir.dev && (await isOnRemoteFs(await next.realPath()))) {
        await next.close();
        await dir.close();
        return unsafe(next.path, "on a network filesystem");
      }
      await dir.close();
      dir = next;
    }
    return dir;
  };

  const withParent = async <T>(
    path: string,
    options: ReadOptions | undefined,
    use: (dir: SafeDir, name: string) => Promise<T | ReadAbsent | ReadRefused>,
  ): Promise<T | ReadAbsent | ReadRefused> => {
    const dir = await openDirAt(dirname(path), options?.scope ?? dirname(path));
    if (!(dir instanceof SafeDir)) return dir;
    try {
      return await use(dir, basename(path));
    } finally {
      await dir.close();
    }
  };

  const openFile = async (path: string, options?: ReadOptions): Promise<SafeOpen> => {
    const opened = await withParent(path, options, (dir, name) => dir.openFile(name));
    if (opened.kind !== "refused" || options?.followWithin === undefined) return opened;
    const link = await withParent(path, options, async (dir, name) => {
      const target = await dir.readlink(name).catch(() => undefined);
      return target === undefined ? opened : { kind: "link" as const, target };
    });
    if (link.kind !== "link") return opened;
    // One hop, to a target read from its own trusted folder: the target itself is not followed again.
    const target = resolve(dirname(path), link.target);
    const within = options.followWithin.find((r) => isUnder(target, r));
    if (within === undefined) return unsafe(path, `symlink to ${target} is out of scope`);
    return openFile(target, { scope: within });
  };

  const fs: CollectFs = {
    root,
    openFile: (path, options) => noted(path, openFile(path, options)),
    async readText(path, options) {
      const opened = await fs.openFile(path, options);
      return opened.kind === "open"
        ? readCapped(opened.handle, options?.maxBytes ?? 4 * 1024 * 1024)
        : undefined;
    },
    list: (path, options) =>
      noted(
        path,
        (async (): Promise<SafeList> => {
          const dir = await openDirAt(path, options?.scope ?? path);
          if (!(dir instanceof SafeDir)) return dir;
          try {
            return { kind: "listed", names: (await dir.list()).sort() };
          } catch (error) {
            return refusedBy(errnoOf(error), path);
          } finally {
            await dir.close();
          }
        })(),
      ),
    lstat: (path, options) =>
      noted(
        path,
        withParent(path, options, async (dir, name): Promise<SafeStat> => {
          try {
            return { kind: "stat", stats: await dir.lstat(name) };
          } catch (error) {
            const errno = errnoOf(error);
            return errno === "ENOENT" ? { kind: "absent" } : refusedBy(errno, path);
          }
        }),
      ),
    async readlink(path, options) {
      const link = await withParent(path, options, async (dir, name) => ({
        kind: "link" as const,
        target: await dir.readlink(name).catch(() => undefined),
      }));
      return link.kind === "link" ? link.target : undefined;
    },
    openDir: (path, options) => noted(path, openDirAt(path, options?.scope ?? path)),
  };
  return fs;
}

function segments(rel: string): string[] {
  return rel.split(sep).filter((s) => s !== "");
}

/**
 * The way to a trusted folder may pass the system's own symlinks (/lib -> usr/lib) but not one that
 * anybody else made: a user who could plant one there could point a "system" read at their own files.
 */
async function checkTrustedChain(
  root: string,
  realScope: string,
  scope: string,
): Promise<ReadRefused | undefined> {
  const start = root === "/" ? parse(realScope).root : root;
  let current = start;
  for (const name of segments(relative(start, realScope))) {
    if (name === "..") return unsafe(scope, "leaves the collection root");
    current = join(current, name);
    const info = await lstat(current).catch((error: unknown) => errnoOf(error));
    if (typeof info === "string") return undefined; // absent or denied: the open says which
    if (info.isSymbolicLink() && info.uid !== 0)
      return unsafe(scope, `${current} is a symlink owned by uid ${info.uid}, not followed`);
  }
  return undefined;
}

async function readCapped(handle: FileHandle, maxBytes: number): Promise<string | undefined> {
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= maxBytes) break;
    }
    return Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8");
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The machine's own files, for callers outside a collection (the device record). */
export const hostFs: CollectFs = collectFs("/");
