import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, readFile, realpath, unlink } from "node:fs/promises";
import { promisify } from "node:util";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import { hashStream } from "@custody/hash";
import type { AgentPolicy } from "../../policy-types.js";
import type { QuarantineBody, RemediationStep } from "../../schemas.js";
import { getFile, type Uploader } from "../getfile.js";
import { openRegular } from "../paths.js";
import type { ServerExchange } from "./exchange.js";
import type { Guard } from "./guard.js";
import { saveRecord } from "./records.js";
import { replaceContent } from "./rewrite.js";
import { type Operation, planRemediation } from "./targets.js";

const run = promisify(execFile);
const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

export interface RemediateOptions {
  cmdId: string;
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
  agentDir: string;
  own: readonly string[];
  quarantine: QuarantineBody | undefined;
  exchange: ServerExchange | undefined;
  upload: Uploader | undefined;
}

interface Quarantined {
  sha256: string;
  size: number;
  mode: number;
  dev: number;
  ino: number;
  mtimeMs: number;
}

async function guardOf(options: RemediateOptions): Promise<Guard> {
  const root = await realpath(options.policy.remediation?.systemRoot ?? "/");
  return { policy: options.policy, root, own: options.own };
}

/** Hashes the file, has the server open a transfer bound to that digest, and sends it (getfile's path). */
async function quarantine(path: string, options: RemediateOptions): Promise<Quarantined> {
  const { quarantine: slot, exchange, upload } = options;
  if (slot === undefined || exchange === undefined || upload === undefined)
    throw new CustodyError("ERR_PROTOCOL", "remediate came without a quarantine slot");
  const { handle, stats } = await openRegular(path, options.policy);
  const hint = slot.expected?.find((e) => e.path === path && e.size === stats.size);
  let sha256: string;
  try {
    // the prerequisite's digest stands in for another read: the upload checks the whole file against it
    if (hint !== undefined)
      return await announced(path, hint.sha256, stats, { slot, exchange, upload }, options);
    const hashed = await hashStream(handle.createReadStream({ autoClose: false, highWaterMark: 1 << 20 }), {
      algorithms: ["sha256"],
      abortSignal: options.signal,
    });
    if (hashed.size !== stats.size)
      throw new CustodyError("ERR_FILE_CHANGED", `${path} changed while hashed`);
    sha256 = hashed.digests.sha256 as string;
  } finally {
    await handle.close();
  }
  return announced(path, sha256, stats, { slot, exchange, upload }, options);
}

async function announced(
  path: string,
  sha256: string,
  stats: { size: number; mode: number; dev: number; ino: number; mtimeMs: number },
  { slot, exchange, upload }: { slot: QuarantineBody; exchange: ServerExchange; upload: Uploader },
  options: RemediateOptions,
): Promise<Quarantined> {
  const mode = stats.mode & 0o7777;
  const transfer = await exchange.announce(slot, { path, size: stats.size, sha256, mode }, options.signal);
  if (transfer.expectedSha256 !== sha256 || transfer.expectedSize !== stats.size)
    throw new CustodyError("ERR_PROTOCOL", "the server's quarantine transfer is for other bytes");
  await getFile(path, { cwd: null, signal: options.signal, policy: options.policy, transfer, upload });
  return { sha256, size: stats.size, mode, dev: stats.dev, ino: stats.ino, mtimeMs: stats.mtimeMs };
}

/** Deletes a quarantined file, only if it is still the file whose bytes went into the vault. */
async function deleteQuarantined(path: string, held: Quarantined): Promise<void> {
  const now = await lstat(path);
  if (now.dev !== held.dev || now.ino !== held.ino || now.size !== held.size || now.mtimeMs !== held.mtimeMs)
    throw new CustodyError(
      "ERR_FILE_CHANGED",
      `${path} changed after it was quarantined; it was not deleted`,
    );
  await unlink(path);
}

async function systemctl(verb: string, unit: string, guard: Guard, signal: AbortSignal): Promise<boolean> {
  if (guard.root !== "/") return false;
  const args = verb === "daemon-reload" ? [verb] : [verb, "--", unit];
  await run("systemctl", args, { env: { PATH: SYSTEM_PATH, LC_ALL: "C" }, signal, timeout: 60_000 }).catch(
    (cause: unknown) => {
      // stopping or disabling a unit systemd does not know is no failure: the files are what persists
      if (verb === "daemon-reload")
        throw toCustodyError(cause, "ERR_COMMAND_FAILED", `systemctl ${verb} failed`);
    },
  );
  return true;
}

async function kill(pid: number, signal: AbortSignal): Promise<void> {
  const alive = () =>
    lstat(`/proc/${pid}`).then(
      () => true,
      () => false,
    );
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (cause) {
      if ((cause as { code?: string }).code !== "ESRCH")
        throw toCustodyError(cause, "ERR_PERMISSION", `cannot stop ${pid}`);
    }
  };
  send("SIGTERM");
  for (let i = 0; i < 40 && (await alive()); i++) {
    if (i === 20) send("SIGKILL");
    throwIfAborted(signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (await alive()) {
    // a zombie is gone in all but name: its parent has not reaped it yet
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z")
      throw new CustodyError("ERR_COMMAND_FAILED", `process ${pid} survived SIGKILL`);
  }
}

/**
 * Runs a remediation: the plan is checked whole first, then every file that will be deleted or rewritten
 * goes into the vault (each bound to its digest), and only then does anything change. Each step is
 * reported, and the device keeps its own record for undo.
 */
export async function remediate(type: string, target: string, options: RemediateOptions) {
  const guard = await guardOf(options);
  const plan = await planRemediation(guard, type, target, options.cwd);
  const steps: RemediationStep[] = [];
  const held = new Map<string, Quarantined>();
  for (const op of plan) {
    const path = op.kind === "delete" || op.kind === "rewrite" ? op.path : undefined;
    if (path === undefined || held.has(path)) continue;
    const q = await quarantine(path, options);
    held.set(path, q);
    steps.push({ action: "quarantine", outcome: "done", path, sha256: q.sha256, size: q.size, mode: q.mode });
  }
  try {
    for (const op of plan) {
      throwIfAborted(options.signal);
      steps.push(await apply(op, guard, held, options.signal));
    }
  } finally {
    await saveRecord(options.agentDir, { id: options.cmdId, type, target, steps, undone: false });
  }
  return { id: options.cmdId, type, target, steps };
}

async function apply(
  op: Operation,
  guard: Guard,
  held: Map<string, Quarantined>,
  signal: AbortSignal,
): Promise<RemediationStep> {
  switch (op.kind) {
    case "delete": {
      const q = held.get(op.path) as Quarantined;
      await deleteQuarantined(op.path, q);
      return {
        action: "delete",
        outcome: "done",
        path: op.path,
        sha256: q.sha256,
        size: q.size,
        mode: q.mode,
      };
    }
    case "rewrite": {
      const q = held.get(op.path) as Quarantined;
      const out = await replaceContent(op.path, op.line, q.sha256);
      return {
        action: "rewrite",
        outcome: "done",
        path: op.path,
        line: op.line,
        ...out,
        sha256: q.sha256,
        size: q.size,
        mode: q.mode,
      };
    }
    case "kill":
      await kill(op.pid, signal);
      return {
        action: "kill",
        outcome: "done",
        pid: op.pid,
        ...(op.image === undefined ? {} : { path: op.image }),
      };
    case "unlink":
      await unlink(op.path);
      return { action: "unlink", outcome: "done", path: op.path, linkTarget: op.linkTarget };
    case "systemctl": {
      const ran = await systemctl(op.verb, op.unit, guard, signal);
      const action = op.verb === "daemon-reload" ? "reload" : op.verb;
      return ran
        ? { action, outcome: "done", unit: op.unit }
        : { action, outcome: "skipped", unit: op.unit, note: "the system root is not / (test root)" };
    }
  }
}

export function sha256Of(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
