import { randomUUID } from "node:crypto";
import { link, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { CustodyError, type ErrorCode, toCustodyError } from "./errors.js";

/**
 * One holder at a time across processes: a lock file created exclusively (O_EXCL) holding the owner's
 * pid. A lock whose pid no longer runs on this host is stale (its holder crashed) and is taken over;
 * taking over is itself guarded by a second exclusive file so two processes cannot both take it.
 */
export interface FileLock {
  release(): Promise<void>;
}

/** What a lock guards, for its errors: the code when it is held, and a name a person understands. */
export interface FileLockOptions {
  code: ErrorCode;
  what: string;
}

interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
}

const ATTEMPTS = 8;

/** Takes the lock at `path` now, or throws `options.code` naming the process that holds it. */
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<FileLock> {
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomUUID() };
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    if (await tryCreate(path, me)) return { release: () => releaseLock(path, me) };
    const owner = await readOwner(path, options);
    if (owner === undefined) continue; // released between our create and our read
    if (isAlive(owner)) throw locked(path, owner, options);
    await removeStale(path, owner, options);
  }
  throw new CustodyError(options.code, `could not take the lock of ${options.what} (${path})`, {
    details: { path },
  });
}

/**
 * Runs `work` holding the lock at `path`, waiting (up to `waitMs`) while another live process holds
 * it: for short read-modify-write steps that several processes may attempt at once.
 */
export async function withFileLock<T>(
  path: string,
  options: FileLockOptions & { waitMs?: number },
  work: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 10_000);
  let lock: FileLock | undefined;
  for (let pause = 5; lock === undefined; pause = Math.min(pause * 2, 100)) {
    try {
      lock = await acquireFileLock(path, options);
    } catch (error) {
      if (!(error instanceof CustodyError) || error.code !== options.code || Date.now() >= deadline)
        throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  // Written in full under a private name, then linked: link() fails atomically when the lock exists,
  // so a lock file is never seen empty or half-written.
  const temp = `${path}.${owner.nonce}.tmp`;
  try {
    await writeFile(temp, JSON.stringify(owner), { mode: 0o600, flush: true });
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw toCustodyError(error, "ERR_IO", `cannot create lock ${path}`);
  } finally {
    await rm(temp, { force: true });
  }
}

async function readOwner(path: string, options: FileLockOptions): Promise<LockOwner | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw toCustodyError(error, "ERR_IO", `cannot read lock ${path}`);
  }
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid === "number" && typeof value.host === "string" && typeof value.nonce === "string") {
      return { pid: value.pid, host: value.host, nonce: value.nonce };
    }
  } catch {
    // fall through: locks are linked in whole, so this is not ours to judge
  }
  throw new CustodyError(options.code, `the lock file ${path} is unreadable; remove it by hand`, {
    details: { path },
  });
}

function isAlive(owner: LockOwner): boolean {
  // Another host's pid cannot be probed; such a lock is never presumed stale.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function removeStale(path: string, stale: LockOwner, options: FileLockOptions): Promise<void> {
  const guard = `${path}.takeover`;
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomUUID() };
  if (!(await tryCreate(guard, me))) {
    const other = await readOwner(guard, options);
    if (other !== undefined && isAlive(other)) throw locked(path, other, options);
    if (other !== undefined) await unlinkIfOwner(guard, other, options);
    return;
  }
  try {
    // Only the exact stale owner is removed: a lock re-created meanwhile belongs to a live writer.
    await unlinkIfOwner(path, stale, options);
  } finally {
    await unlinkIfOwner(guard, me, options);
  }
}

async function unlinkIfOwner(path: string, owner: LockOwner, options: FileLockOptions): Promise<void> {
  const current = await readOwner(path, options);
  if (current === undefined || current.nonce !== owner.nonce || current.pid !== owner.pid) return;
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw toCustodyError(error, "ERR_IO", `cannot remove lock ${path}`);
  });
}

async function releaseLock(path: string, me: LockOwner): Promise<void> {
  await unlinkIfOwner(path, me, { code: "ERR_IO", what: path });
}

function locked(path: string, owner: LockOwner, options: FileLockOptions): CustodyError {
  return new CustodyError(
    options.code,
    `${options.what} is in use by process ${owner.pid} on ${owner.host} (lock ${path})`,
    { details: { path, pid: owner.pid, host: owner.host } },
  );
}
