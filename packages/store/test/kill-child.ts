import { spawn } from "node:child_process";

/**
 * Runs `node script ...args`, SIGKILLs it `delayMs` after it printed "ready", and resolves with what it
 * printed on stdout by then. A child that ends on its own is a failure (it was meant to run until killed).
 */
export function runUntilKilled(script: string, args: readonly string[], delayMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (out === "" && d.startsWith("ready")) setTimeout(() => child.kill("SIGKILL"), delayMs);
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`${script} exited on its own (${code}): ${err}`));
      else resolve(out);
    });
  });
}

/** The values of the lines of `out` that start with `prefix` followed by a space. */
export function linesOf(out: string, prefix: string): string[] {
  return out
    .split("\n")
    .filter((line) => line.startsWith(`${prefix} `))
    .map((line) => line.slice(prefix.length + 1));
}
