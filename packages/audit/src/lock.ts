import { randomUUID } from "node:crypto";
import { link, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { CustodyError, toCustodyError } from "@custody/core";

/**
 * One writer per log directory: a lock file created exclusively (O_EXCL) holding the owner's pid. A lock
 * whose pid no longer runs on this host is stale (its writer crashed) and is taken over; taking over is
 * itself guarded by a second exclusive file so two processes cannot both take the same stale lock.
 */
export interface DirLock {
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
}

const ATTEMPTS = 8;

export async function acquireLock(path: string): Promise<DirLock> {
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomUUID() };
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    if (await tryCreate(path, me)) return { release: () => releaseLock(path, me) };
    const owner = await readOwner(path);
    if (owner === undefined) continue; // released between our create and our read
    if (isAlive(owner)) throw locked(path, owner);
    await removeStale(path, owner);
  }
  throw new CustodyError("ERR_AUDIT_LOCKED", `could not take the audit log lock ${path}`, {
    details: { path },
  });
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

async function readOwner(path: string): Promise<LockOwner | undefined> {
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
  throw new CustodyError("ERR_AUDIT_LOCKED", `the lock file ${path} is unreadable; remove it by hand`, {
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

async function removeStale(path: string, stale: LockOwner): Promise<void> {
  const guard = `${path}.takeover`;
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomUUID() };
  if (!(await tryCreate(guard, me))) {
    const other = await readOwner(guard);
    if (other !== undefined && isAlive(other)) throw locked(path, other);
    if (other !== undefined) await unlinkIfOwner(guard, other);
    return;
  }
  try {
    // Only the exact stale owner is removed: a lock re-created meanwhile belongs to a live writer.
    await unlinkIfOwner(path, stale);
  } finally {
    await unlinkIfOwner(guard, me);
  }
}

async function unlinkIfOwner(path: string, owner: LockOwner): Promise<void> {
  const current = await readOwner(path);
  if (current === undefined || current.nonce !== owner.nonce || current.pid !== owner.pid) return;
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw toCustodyError(error, "ERR_IO", `cannot remove lock ${path}`);
  });
}

async function releaseLock(path: string, me: LockOwner): Promise<void> {
  await unlinkIfOwner(path, me);
}

function locked(path: string, owner: LockOwner): CustodyError {
  return new CustodyError(
    "ERR_AUDIT_LOCKED",
    `the audit log is in use by process ${owner.pid} on ${owner.host} (lock ${path})`,
    { details: { path, pid: owner.pid, host: owner.host } },
  );
}
