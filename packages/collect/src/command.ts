import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import type { CollectContext } from "./types.js";

// Tools are looked up in the system's own folders only: a PATH set by whoever owns the shell could
// point at a planted binary.
const LINUX_TOOL_DIRS = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const WINDOWS_TOOL_DIRS = [
  join(process.env.SystemRoot ?? "C:\\Windows", "System32"),
  join(process.env.SystemRoot ?? "C:\\Windows", "System32", "WindowsPowerShell", "v1.0"),
];

export async function findTool(
  name: string,
  dirs = process.platform === "win32" ? WINDOWS_TOOL_DIRS : LINUX_TOOL_DIRS,
): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = join(dir, process.platform === "win32" && !name.includes(".") ? `${name}.exe` : name);
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok) return candidate;
  }
  return undefined;
}

/** The exact command line, quoted where needed, as recorded in the summary. */
export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : `"${a.replaceAll('"', '\\"')}"`))
    .join(" ");
}

export type ToolOutcome = "ran" | "absent" | "failed";

/**
 * Runs a tool without a shell and streams its stdout into `relPath`; the command line is recorded,
 * a missing tool is "absent", a non-zero exit is a problem with the tool's own words.
 */
export async function runTool(
  ctx: CollectContext,
  relPath: string,
  name: string,
  args: readonly string[],
): Promise<ToolOutcome> {
  const file = await findTool(name);
  if (file === undefined) {
    ctx.logger.info({ dataPoint: ctx.dataPoint, tool: name }, "tool not present");
    return "absent";
  }
  const line = commandLine(file, args);
  ctx.command(line);
  const child = spawn(file, [...args], {
    stdio: ["ignore", "pipe", "pipe"],
    signal: ctx.abortSignal,
    windowsHide: true,
    env: { ...process.env, LC_ALL: "C" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  const exit = new Promise<number | string>((resolve) => {
    child.on("error", (error) => resolve((error as { code?: string }).code ?? "EIO"));
    child.on("close", (code, signal) => resolve(code ?? signal ?? "killed"));
  });
  await ctx.emit(relPath, child.stdout, { source: line });
  const status = await exit;
  if (status === 0) return "ran";
  ctx.problem(line, "ERR_COLLECT_FAILED", `exit ${status}: ${stderr.trim().slice(0, 500)}`);
  return "failed";
}

/**
 * Runs a tool whose output is small and also parsed (Windows listings): keeps stdout (within the
 * per-file cap), writes it raw to `relPath`, and returns it as UTF-8. undefined when the tool is absent.
 */
export async function captureTool(
  ctx: CollectContext,
  relPath: string,
  name: string,
  args: readonly string[],
): Promise<string | undefined> {
  return (await captureToolBytes(ctx, relPath, name, args))?.toString("utf8");
}

/** captureTool's bytes, as the tool wrote them (Windows tools write in the console's code page). */
export async function captureToolBytes(
  ctx: CollectContext,
  relPath: string | undefined,
  name: string,
  args: readonly string[],
): Promise<Buffer | undefined> {
  const file = await findTool(name);
  if (file === undefined) {
    ctx.problem(name, "ERR_NOT_PRESENT", "tool not found in the system folders");
    return undefined;
  }
  const line = commandLine(file, args);
  ctx.command(line);
  const child = spawn(file, [...args], {
    stdio: ["ignore", "pipe", "pipe"],
    signal: ctx.abortSignal,
    windowsHide: true,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    if (size < ctx.limits.maxFileBytes) chunks.push(chunk);
    size += chunk.length;
  });
  const status = await new Promise<number | string>((resolve) => {
    child.on("error", (error) => resolve((error as { code?: string }).code ?? "EIO"));
    child.on("close", (code, signal) => resolve(code ?? signal ?? "killed"));
  });
  const output = Buffer.concat(chunks).subarray(0, ctx.limits.maxFileBytes);
  if (relPath !== undefined) await ctx.emit(relPath, output, { source: line });
  // reg query exits 1 for a missing key: its message is the recorded answer, not a failure.
  if (status !== 0 && !(name === "reg" && status === 1))
    ctx.problem(line, "ERR_COLLECT_FAILED", `exit ${status}`);
  return output;
}
