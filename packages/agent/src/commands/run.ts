import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustodyError, throwIfAborted } from "@custody/core";
import { killGroup, killSurvivors } from "./process-group.js";
import type { CheckedScript } from "./script-check.js";

/** stdout kept and sent back (it travels in the result frame); the count goes on past it. */
export const MAX_RUN_STDOUT_BYTES = 512 * 1024;
/** stderr kept and sent back. */
export const MAX_RUN_STDERR_BYTES = 64 * 1024;
const GRACE_MS = 2000;
const SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ScriptRunOptions {
  cwd: string | null;
  signal: AbortSignal;
  args: readonly string[];
}

/** `bash` when the script asks for it in its first line, `/bin/sh` otherwise. */
export function interpreterOf(content: Buffer): string {
  const first = content.subarray(0, 128).toString("latin1").split("\n", 1)[0] ?? "";
  return /^#!\s*(\/usr\/bin\/env\s+bash|\/(usr\/)?bin\/bash)(\s|$)/.test(first) ? "bash" : "/bin/sh";
}

class Bounded {
  readonly #chunks: Buffer[] = [];
  readonly #hash = createHash("sha256");
  bytes = 0;
  constructor(readonly max: number) {}
  add(chunk: Buffer): void {
    const room = this.max - Math.min(this.bytes, this.max);
    if (room > 0) this.#chunks.push(chunk.subarray(0, room));
    this.#hash.update(chunk);
    this.bytes += chunk.length;
  }
  kept(): Buffer {
    return Buffer.concat(this.#chunks);
  }
  sha256(): string {
    return this.#hash.digest("hex");
  }
}

/**
 * Runs a checked script with its interpreter, in a new session and process group (setsid), its
 * arguments as argv (never through a shell line). When the script exits, or the command is cancelled
 * or times out, the whole group is killed: SIGTERM, then SIGKILL after a grace period; nothing it
 * started in its group outlives the command. The script's file lives in a private 0700 folder for the
 * run only.
 */
export async function runScript(
  script: CheckedScript,
  options: ScriptRunOptions,
): Promise<Record<string, unknown>> {
  throwIfAborted(options.signal);
  const folder = await mkdtemp(join(tmpdir(), "custody-run-"));
  try {
    const file = join(folder, script.name);
    await writeFile(file, script.content, { mode: 0o500 });
    const started = Date.now();
    const outcome = await spawnInGroup(interpreterOf(script.content), [file, ...options.args], {
      cwd: options.cwd ?? folder,
      signal: options.signal,
      // none of the agent's own environment: a fixed PATH, the C locale, the run's private folder
      env: { PATH: SCRIPT_PATH, LC_ALL: "C", HOME: folder, TMPDIR: folder },
    });
    return {
      script: script.name,
      version: script.version,
      sha256: script.sha256,
      signed: script.signer !== undefined,
      ...(script.signer === undefined
        ? {}
        : { signer: script.signer.subject, signerFingerprintSha256: script.signer.fingerprintSha256 }),
      args: [...options.args],
      pid: outcome.pid,
      exitCode: outcome.code,
      ...(outcome.signal === null ? {} : { exitSignal: outcome.signal }),
      durationMs: Date.now() - started,
      stdoutBytes: outcome.stdout.bytes,
      stdoutSha256: outcome.stdout.sha256(),
      stdoutTruncated: outcome.stdout.bytes > MAX_RUN_STDOUT_BYTES,
      stdoutBase64: outcome.stdout.kept().toString("base64"),
      survivors: outcome.survivors,
      stderrBytes: outcome.stderr.bytes,
      stderr: outcome.stderr.kept().toString("utf8"),
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

interface GroupOutcome {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Bounded;
  stderr: Bounded;
  /** Processes of its group still alive after it was killed (checked in /proc). */
  survivors: number[];
}

function spawnInGroup(
  file: string,
  args: readonly string[],
  options: { cwd: string; signal: AbortSignal; env: NodeJS.ProcessEnv },
): Promise<GroupOutcome> {
  const child = spawn(file, [...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const stdout = new Bounded(MAX_RUN_STDOUT_BYTES);
  const stderr = new Bounded(MAX_RUN_STDERR_BYTES);
  child.stdout.on("data", (chunk: Buffer) => stdout.add(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.add(chunk));
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    if (child.pid === undefined) return;
    killGroup(child.pid, "SIGTERM");
    const pid = child.pid;
    timer = setTimeout(() => killGroup(pid, "SIGKILL"), GRACE_MS);
  };
  options.signal.addEventListener("abort", onAbort, { once: true });
  return new Promise((resolve, reject) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on("error", (error) =>
      reject(new CustodyError("ERR_COMMAND_FAILED", `${file}: ${error.message}`, { cause: error })),
    );
    // the leader is gone: whatever it left in its group goes too, so its pipes close
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    });
    child.on("close", (code, signal) => {
      options.signal.removeEventListener("abort", onAbort);
      clearTimeout(timer);
      const pid = child.pid as number;
      // checked, not assumed: the group is killed until /proc shows none of it
      void killSurvivors(pid).then((survivors) => {
        if (options.signal.aborted) {
          reject(
            new CustodyError("ERR_ABORTED", `${file} was stopped`, {
              cause: options.signal.reason,
              details: { survivors },
            }),
          );
          return;
        }
        resolve({ pid, code: exit?.code ?? code, signal: exit?.signal ?? signal, stdout, stderr, survivors });
      });
    });
  });
}
