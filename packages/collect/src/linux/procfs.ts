// Kernel state (/proc, /sys) is read directly, not through ctx.fs: the kernel makes these paths and no
// user can replace a component of them (see the README's limits).
import { readdir, readFile, readlink } from "node:fs/promises";

/** Numeric entries of /proc, ascending. */
export async function listPids(): Promise<number[]> {
  const names = await readdir("/proc");
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Clock ticks after boot. */
  startTicks: number;
  threads: number;
}

/** /proc/<pid>/stat; the name sits in parentheses and may itself contain ") ", so split at the last one. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(" ");
  // Fields after the name start at field 3 (state); starttime is field 22, num_threads field 20.
  const state = rest[0] ?? "";
  const ppid = Number(rest[1]);
  const threads = Number(rest[17]);
  const startTicks = Number(rest[19]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(startTicks)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTicks, threads };
}

/** Key: value pairs of /proc/<pid>/status. */
export function parseProcStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return out;
}

/** Boot time (seconds since the epoch) from /proc/stat's btime line. */
export function parseBootTime(procStat: string): number | undefined {
  const match = /^btime\s+(\d+)$/m.exec(procStat);
  return match ? Number(match[1]) : undefined;
}

let clockTicks: Promise<number> | undefined;

/**
 * USER_HZ, which Node cannot ask sysconf for: derived from this process's own start time in ticks
 * against its uptime, snapped to the values Linux uses. 100 on every mainstream architecture.
 */
export function clockTicksPerSecond(): Promise<number> {
  clockTicks ??= (async () => {
    try {
      const self = parseProcStat(await readFile("/proc/self/stat", "utf8"));
      const uptime = Number((await readFile("/proc/uptime", "utf8")).split(" ")[0]);
      const startedAfterBootS = uptime - process.uptime();
      if (!self || !(startedAfterBootS > 1)) return 100;
      const measured = self.startTicks / startedAfterBootS;
      return [100, 250, 300, 1000].reduce((a, b) =>
        Math.abs(b - measured) < Math.abs(a - measured) ? b : a,
      );
    } catch {
      return 100;
    }
  })();
  return clockTicks;
}

export interface SocketOwner {
  pid: number;
  name: string;
}

/** Socket inode to owning processes, from the /proc/<pid>/fd links (needs root for others' processes). */
export async function socketOwners(
  pids: readonly number[],
): Promise<{ owners: Map<number, SocketOwner[]>; unreadable: number }> {
  const owners = new Map<number, SocketOwner[]>();
  let unreadable = 0;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      unreadable++;
      continue;
    }
    const name = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (!match) continue;
      const inode = Number(match[1]);
      const list = owners.get(inode) ?? [];
      if (!list.some((o) => o.pid === pid)) list.push({ pid, name });
      owners.set(inode, list);
    }
  }
  return { owners, unreadable };
}
