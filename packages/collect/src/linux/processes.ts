import { createHash } from "node:crypto";
// Kernel state (/proc, /sys) is read directly, not through ctx.fs: the kernel makes these paths and no
// user can replace a component of them (see the README's limits).
import { open, readFile, readlink } from "node:fs/promises";
import { csvStream } from "../csv.js";
import { codeForErrno, errnoOf } from "../safe-fs.js";
import type { CollectContext, Collector } from "../types.js";
import { type Accounts, readAccounts } from "./accounts.js";
import { clockTicksPerSecond, listPids, parseBootTime, parseProcStat, parseProcStatus } from "./procfs.js";

export interface ProcessRow {
  pid: number;
  ppid: number;
  name: string;
  state: string;
  uid: string;
  user: string;
  startTime: string;
  threads: number;
  commandLine: string;
  exe: string;
  exeDeleted: boolean;
  exeSha256: string;
  exeError: string;
  cwd: string;
  /** LD_PRELOAD from the process's initial environment: the only variable kept (the rest may hold secrets). */
  ldPreload: string;
}

const COLUMNS = [
  "pid",
  "ppid",
  "name",
  "state",
  "uid",
  "user",
  "startTime",
  "threads",
  "commandLine",
  "exe",
  "exeDeleted",
  "exeSha256",
  "exeError",
  "cwd",
  "ldPreload",
] as const;

export const linuxProcesses: Collector = {
  name: "Processes",
  platform: "linux",
  volatilityRank: 1,
  source: "/proc/<pid>/{stat,status,cmdline,exe,cwd}; sha256 read through /proc/<pid>/exe",
  async collect(ctx) {
    const accounts = await readAccounts(ctx);
    const bootTime = parseBootTime(await readFile("/proc/stat", "utf8")) ?? 0;
    const hz = await clockTicksPerSecond();
    const hashes = new Map<string, Promise<string>>();
    const rows: ProcessRow[] = [];
    let denied = 0;
    for (const pid of await listPids()) {
      ctx.abortSignal.throwIfAborted();
      const row = await readProcess(pid, { accounts, bootTime, hz, hashes, ctx });
      if (row === undefined) continue;
      if (row.exeError === "ERR_PERMISSION") denied++;
      rows.push(row);
    }
    if (denied > 0)
      ctx.problem(
        "/proc/<pid>/exe",
        "ERR_PERMISSION",
        `${denied} executables could not be opened (EACCES/EPERM)`,
      );
    await ctx.emit("Processes.csv", csvStream(COLUMNS, rows), { source: "/proc/<pid>/*" });
  },
};

interface ReadOptions {
  accounts: Accounts;
  bootTime: number;
  hz: number;
  hashes: Map<string, Promise<string>>;
  ctx: CollectContext;
}

async function readProcess(pid: number, options: ReadOptions): Promise<ProcessRow | undefined> {
  const base = `/proc/${pid}`;
  const stat = parseProcStat(await readFile(`${base}/stat`, "utf8").catch(() => ""));
  // The process exited between listing and reading: nothing left to record.
  if (stat === undefined) return undefined;
  const status = parseProcStatus(await readFile(`${base}/status`, "utf8").catch(() => ""));
  const uid = (status.get("Uid") ?? "").split(/\s+/)[0] ?? "";
  const cmdline = await readFile(`${base}/cmdline`).catch(() => Buffer.alloc(0));
  const exeLink = await readlink(`${base}/exe`).catch((e: unknown) => ({ error: errnoOf(e) }));
  const cwd = await readlink(`${base}/cwd`).catch(() => "");
  const exe = typeof exeLink === "string" ? exeLink : "";
  const digest =
    typeof exeLink === "string"
      ? await hashExe(pid, options)
      : { sha256: "", error: kernelOrDenied(exeLink.error) };
  return {
    pid,
    ppid: stat.ppid,
    name: status.get("Name") ?? stat.comm,
    state: stat.state,
    uid,
    user: uid === "" ? "" : options.accounts.userName(Number(uid)),
    startTime: new Date((options.bootTime + stat.startTicks / options.hz) * 1000).toISOString(),
    threads: stat.threads,
    commandLine: cmdline.toString("utf8").replace(/\0+$/, "").replaceAll("\0", " "),
    exe: exe.replace(/ \(deleted\)$/, ""),
    exeDeleted: exe.endsWith(" (deleted)"),
    exeSha256: digest.sha256,
    exeError: digest.error,
    cwd,
    ldPreload: await ldPreload(base),
  };
}

// Kernel threads have no executable (ENOENT); that is not a failure to record.
function kernelOrDenied(errno: string): string {
  return errno === "ENOENT" ? "" : codeForErrno(errno);
}

/** Hashes the executable through /proc/<pid>/exe, so a deleted binary is hashed too; once per inode. */
async function hashExe(pid: number, options: ReadOptions): Promise<{ sha256: string; error: string }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(`/proc/${pid}/exe`, "r");
  } catch (error) {
    return { sha256: "", error: kernelOrDenied(errnoOf(error)) };
  }
  try {
    const info = await handle.stat();
    const key = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
    let pending = options.hashes.get(key);
    if (pending === undefined) {
      pending = digest(handle, options.ctx.abortSignal);
      options.hashes.set(key, pending);
    }
    return { sha256: await pending, error: "" };
  } catch (error) {
    return { sha256: "", error: codeForErrno(errnoOf(error)) };
  } finally {
    await handle.close();
  }
}

async function digest(handle: Awaited<ReturnType<typeof open>>, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  for (let position = 0; ; ) {
    signal.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest("hex");
}

async function ldPreload(base: string): Promise<string> {
  const environ = await readFile(`${base}/environ`).catch(() => Buffer.alloc(0));
  const entry = environ
    .toString("utf8")
    .split("\0")
    .find((v) => v.startsWith("LD_PRELOAD="));
  return entry === undefined ? "" : entry.slice("LD_PRELOAD=".length);
}
