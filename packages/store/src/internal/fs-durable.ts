import { randomUUID } from "node:crypto";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";

/** Makes a directory's entries (a create, rename or unlink inside it) survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a new file (never an existing one), read-only, and fsyncs it before returning. */
export async function writeDurableFile(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, "wx", 0o444);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p below `root`, fsyncing each parent whose entries changed so the path survives a crash. */
export async function mkdirDurable(root: string, segments: readonly string[]): Promise<void> {
  let parent = root;
  for (const segment of segments) {
    const dir = join(parent, segment);
    const created = await mkdir(dir).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === "EEXIST") return false;
        throw error;
      },
    );
    if (created) await fsyncDir(parent);
    parent = dir;
  }
}

/** A temp name that says which process owns it, so cleanup on open never touches a live writer's files. */
export function tempName(suffix: string): string {
  return `${process.pid}-${randomUUID()}${suffix}`;
}

export function ownerPid(name: string): number | undefined {
  const match = /^(\d+)-/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 2 });
}

export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * `placing`'s value once it and `syncing` have both settled (so neither outlives the handle they use);
 * the sync's failure first, then the placing's.
 */
export async function afterSync<T>(syncing: Promise<void>, placing: Promise<T>): Promise<T> {
  const [synced, done] = await Promise.allSettled([syncing, placing]);
  if (synced.status === "rejected") throw synced.reason;
  if (done.status === "rejected") throw done.reason;
  return done.value;
}
