import { createHash, type Hash, randomUUID } from "node:crypto";
import { posix } from "node:path";
import type { CommandSpec, ParsedCommandLine } from "@custody/agent/protocol";
import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "@custody/vault";
import type { CommandEntry, CommandEvent, LiveSession } from "./session.js";
import type { Transfer } from "./transfers.js";

/** A command while the server tracks it: its log entry, its output so far, who follows it. */
export interface Tracked {
  entry: CommandEntry;
  session: LiveSession;
  principal: AuthenticatedPrincipal;
  spec: CommandSpec;
  parsed: ParsedCommandLine;
  rows: Record<string, unknown>[];
  /** sha256 over every row as a canonical JSON line, kept or not. */
  hash: Hash;
  listeners: Set<(event: CommandEvent) => void>;
  timers: NodeJS.Timeout[];
  startedMs?: number;
  transfer?: Transfer;
  /** Set once a timeout or a cancel asked the agent to stop: its answer settles the status. */
  stopping?: "timed-out" | "cancelled";
  done: Promise<CommandEntry>;
  settle(entry: CommandEntry): void;
}

export function newTracked(
  principal: AuthenticatedPrincipal,
  session: LiveSession,
  line: string,
  parsed: ParsedCommandLine,
  spec: CommandSpec,
  prerequisiteOf?: string,
): Tracked {
  let settle: (entry: CommandEntry) => void = () => undefined;
  const done = new Promise<CommandEntry>((resolve) => {
    settle = resolve;
  });
  const entry: CommandEntry = {
    id: `C-${randomUUID()}`,
    sessionId: session.id,
    line,
    name: parsed.name,
    analyst: principal.id,
    deviceId: session.deviceId,
    caseId: session.caseId,
    background: parsed.background,
    ...(prerequisiteOf === undefined ? {} : { prerequisiteOf }),
    submittedAt: new Date().toISOString(),
    status: "queued",
    rows: 0,
    decisions: [],
  };
  return {
    entry,
    session,
    principal,
    spec,
    parsed,
    rows: [],
    hash: createHash("sha256"),
    listeners: new Set(),
    timers: [],
    done,
    settle,
  };
}

/** The session's fileinfo of this command's path within `windowMs`, if any (getfile's prerequisite). */
export function recentFileinfo(tracked: Tracked, windowMs: number) {
  const path = pathArgument(tracked.parsed);
  const { session } = tracked;
  const keys = [path];
  if (session.cwd !== null && !path.startsWith("/")) keys.push(posix.join(session.cwd, path));
  const horizon = Date.now() - windowMs;
  for (const key of keys) {
    const found = session.fileinfo.get(key);
    if (found !== undefined && found.at >= horizon) return found;
  }
  return undefined;
}

/** A completed fileinfo, kept under the path as given and as the device resolved it. */
export function rememberFileinfo(tracked: Tracked, data: Record<string, unknown>): void {
  const entry = { at: Date.now(), cmdId: tracked.entry.id, data };
  tracked.session.fileinfo.set(pathArgument(tracked.parsed), entry);
  if (typeof data.path === "string") tracked.session.fileinfo.set(data.path, entry);
}

export function summary(entry: CommandEntry): string {
  const error = entry.error === undefined ? "" : `: ${entry.error.code} ${entry.error.message}`;
  return `${entry.name} ${entry.status} after ${entry.durationMs} ms, ${entry.rows} rows${error}`;
}

export function pathArgument(parsed: ParsedCommandLine): string {
  const value = parsed.flags.path ?? parsed.positional[0];
  return typeof value === "string" ? value : "";
}

export function stopError(status: "timed-out" | "cancelled", reason: string): CustodyError {
  return status === "timed-out"
    ? new CustodyError("ERR_TIMEOUT", `the command timed out (${reason})`)
    : new CustodyError("ERR_ABORTED", `cancelled: ${reason}`);
}

export function errorOf(error: unknown): { code: string; message: string } {
  if (isCustodyError(error)) return { code: error.code, message: error.message };
  return { code: "ERR_INTERNAL", message: (error as Error).message ?? String(error) };
}

export function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}
