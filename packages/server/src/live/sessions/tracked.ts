import { createHash, type Hash, randomUUID } from "node:crypto";
import { posix } from "node:path";
import type {
  CommandSpec,
  DownloadBody,
  ParsedCommandLine,
  QuarantineBody,
  RestoreBody,
  ScriptBody,
} from "@custody/agent/protocol";
import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "@custody/vault";
import type { PackageUpload } from "./package-upload.js";
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
  /** `collect`: where the device uploads its signed package. */
  packageUpload?: PackageUpload;
  /** `run`: the library script sent inline in the command frame. */
  script?: ScriptBody;
  /** remediate, undo, putfile: what the frame carries besides the command (a slot, downloads). */
  exchange?: { quarantine?: QuarantineBody; download?: DownloadBody; restore?: RestoreBody };
  /** Who signed it, as the vault verified at upload. */
  scriptSigner?: string;
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

/**
 * The path a command names, as the server resolves it against the session's folder. The device's own
 * account of the path is its claim; what the analyst asked for is what labels the evidence.
 */
export function requestedPath(tracked: Tracked): string {
  const path = pathArgument(tracked.parsed);
  const { cwd } = tracked.session;
  return cwd !== null && !path.startsWith("/") ? posix.join(cwd, path) : path;
}

/** The session's fileinfo of this command's path within `windowMs`, if any (getfile's prerequisite). */
export function recentFileinfo(tracked: Tracked, windowMs: number) {
  const found = tracked.session.fileinfo.get(requestedPath(tracked));
  return found !== undefined && found.at >= Date.now() - windowMs ? found : undefined;
}

/**
 * A completed fileinfo, kept under the path it was asked for (resolved by the server), never under the
 * path the device reports: a device cannot make a fileinfo of one file stand for another.
 */
export function rememberFileinfo(tracked: Tracked, data: Record<string, unknown>): void {
  tracked.session.fileinfo.set(requestedPath(tracked), { at: Date.now(), cmdId: tracked.entry.id, data });
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
