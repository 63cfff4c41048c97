import { spawn } from "node:child_process";
import { CustodyError } from "@custody/core";

export interface GroupRunOptions {
  signal: AbortSignal;
  /** Largest stdout kept; more is an error. */
  maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL to the group on abort. */
  graceMs?: number;
}

export interface GroupRun {
  pid: number;
  done: Promise<{ code: number | null; stdout: Buffer; stderr: string }>;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone: nothing left to stop.
  }
}

/**
 * Runs a tool with no shell in its own process group (POSIX), so an abort stops the tool and every
 * child it made: SIGTERM to the whole group, then SIGKILL after `graceMs`.
 */
export function runInGroup(file: string, args: readonly string[], options: GroupRunOptions): GroupRun {
  options.signal.throwIfAborted();
  const child = spawn(file, [...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: process.platform !== "win32",
    windowsHide: true,
    env: { ...process.env, LC_ALL: "C" },
  });
  const pid = child.pid;
  if (pid === undefined) throw new CustodyError("ERR_COMMAND_FAILED", `${file} could not be started`);
  const max = options.maxOutputBytes ?? 64 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let bytes = 0;
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= max) chunks.push(chunk);
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    if (process.platform === "win32") child.kill();
    else killGroup(pid, "SIGTERM");
    timer = setTimeout(() => killGroup(pid, "SIGKILL"), options.graceMs ?? 2000);
  };
  options.signal.addEventListener("abort", onAbort, { once: true });
  const done = new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve, reject) => {
    child.on("error", (error) =>
      reject(new CustodyError("ERR_COMMAND_FAILED", `${file}: ${error.message}`, { cause: error })),
    );
    child.on("close", (code) => {
      options.signal.removeEventListener("abort", onAbort);
      if (options.signal.aborted) {
        // Whatever the tool left in its group goes too, even if the tool itself exited on SIGTERM.
        killGroup(pid, "SIGKILL");
        clearTimeout(timer);
        reject(new CustodyError("ERR_ABORTED", `${file} was stopped`, { cause: options.signal.reason }));
      } else if (bytes > max)
        reject(new CustodyError("ERR_SIZE_LIMIT", `${file} wrote more than ${max} bytes`));
      else resolve({ code, stdout: Buffer.concat(chunks), stderr });
    });
  });
  return { pid, done };
}
