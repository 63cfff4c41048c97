import type { AuthenticatedPrincipal } from "@custody/vault";

export type CommandStatus = "queued" | "running" | "completed" | "failed" | "cancelled" | "timed-out";

export const FINAL_STATUSES: ReadonlySet<CommandStatus> = new Set([
  "completed",
  "failed",
  "cancelled",
  "timed-out",
]);

/** One line of the command log: what ran, for whom, where, when, how long, how it ended, what it printed. */
export interface CommandEntry {
  id: string;
  sessionId: string;
  line: string;
  name: string;
  analyst: string;
  deviceId: string;
  caseId: string;
  background: boolean;
  /** The getfile this fileinfo ran for (`-auto`). */
  prerequisiteOf?: string;
  submittedAt: string;
  startedAt?: string;
  durationMs?: number;
  status: CommandStatus;
  rows: number;
  /** sha256 of the output rows as canonical JSON lines. */
  outputSha256?: string;
  error?: { code: string; message: string };
  data?: Record<string, unknown>;
  itemId?: string;
  /** Audit seq numbers of this command's decisions (submit, prerequisite, dispatch). */
  decisions: number[];
}

/** What a console follows: rows as they come, then the final entry. */
export type CommandEvent =
  | { type: "rows"; rows: Record<string, unknown>[] }
  | { type: "result"; command: CommandEntry };

export interface SessionView {
  id: string;
  deviceId: string;
  caseId: string;
  createdBy: string;
  createdAt: string;
  closedAt?: string;
  closeReason?: string;
  durationMs: number;
  cwd: string | null;
  transcriptItemId?: string;
  commands: number;
}

/** A session: one person on one device for one case; everything it produces is evidence of that case. */
export interface LiveSession {
  id: string;
  deviceId: string;
  caseId: string;
  principal: AuthenticatedPrincipal;
  createdAt: Date;
  lastActivity: number;
  closedAt?: Date;
  closeReason?: string;
  cwd: string | null;
  transcriptItemId?: string;
  /** Command ids in submission order. */
  commands: string[];
  /** The queued action this session runs (it does not count against its analyst's own session limit). */
  forAction?: string;
  /** `fileinfo` results by path, for getfile's prerequisite. */
  fileinfo: Map<string, { at: number; cmdId: string; data: Record<string, unknown> }>;
}

export function sessionView(session: LiveSession, now: number): SessionView {
  const end = session.closedAt?.getTime() ?? now;
  return {
    id: session.id,
    deviceId: session.deviceId,
    caseId: session.caseId,
    createdBy: session.principal.id,
    createdAt: session.createdAt.toISOString(),
    ...(session.closedAt === undefined ? {} : { closedAt: session.closedAt.toISOString() }),
    ...(session.closeReason === undefined ? {} : { closeReason: session.closeReason }),
    durationMs: end - session.createdAt.getTime(),
    cwd: session.cwd,
    ...(session.transcriptItemId === undefined ? {} : { transcriptItemId: session.transcriptItemId }),
    commands: session.commands.length,
  };
}
