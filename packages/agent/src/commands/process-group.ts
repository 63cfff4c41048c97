import { readdir, readFile } from "node:fs/promises";

/** Sends `signal` to every process of group `pgid`; a group already gone is not an error. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone: nothing left to stop
  }
}

/** The live (not zombie) processes whose process group is `pgid`, read from /proc (Linux). */
export async function groupMembers(pgid: number): Promise<number[]> {
  const names = await readdir("/proc").catch(() => [] as string[]);
  const found: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // fields after the command name (which may hold spaces and parentheses): state, ppid, pgrp
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== undefined && fields[0] !== "Z" && Number(fields[2]) === pgid) found.push(Number(name));
  }
  return found;
}

/**
 * Kills group `pgid` until /proc shows none of it, for up to `waitMs`; returns the processes still there
 * (none, unless one ignores SIGKILL in uninterruptible sleep). Off Linux it cannot look, and returns [].
 */
export async function killSurvivors(pgid: number, waitMs = 1000): Promise<number[]> {
  if (process.platform !== "linux") return [];
  const deadline = Date.now() + waitMs;
  for (;;) {
    killGroup(pgid, "SIGKILL");
    const left = await groupMembers(pgid);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
