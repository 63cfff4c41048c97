const MINUTE = 60_000;

/** Live-response limits (the source document's, configurable): sessions, idle time, timeouts, file size. */
export interface LiveLimits {
  /** Sessions open at once on this server. */
  maxSessions: number;
  /** Sessions one person may hold at once. */
  sessionsPerUser: number;
  /** Sessions one device may be in at once. */
  sessionsPerDevice: number;
  /** A session with no command and no output for this long is closed. */
  idleMs: number;
  /** Per-command timeouts by command name; the registry's when absent (10 min; getfile, findfile 30 min). */
  commandTimeoutsMs: Readonly<Record<string, number>>;
  /** Largest file `getfile` takes, refused before any byte moves. */
  maxGetfileBytes: number;
  /** Largest investigation package a device's `collect` may upload. */
  maxPackageBytes: number;
  /** A `fileinfo` of the path this recent satisfies `getfile`'s prerequisite. */
  prerequisiteWindowMs: number;
  /** Commands of one session running on its device at once; the others wait in order. */
  runningPerSession: number;
  /** Output rows kept per command for the console and the transcript (the digest covers them all). */
  maxKeptRows: number;
  /** After a cancel (or a timeout), how long the agent has to confirm before the command is settled anyway. */
  cancelGraceMs: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = {
  maxSessions: 10,
  sessionsPerUser: 1,
  sessionsPerDevice: 1,
  idleMs: 30 * MINUTE,
  commandTimeoutsMs: {},
  maxGetfileBytes: 750 * 1024 * 1024,
  maxPackageBytes: 4 * 1024 * 1024 * 1024,
  prerequisiteWindowMs: 10 * MINUTE,
  runningPerSession: 4,
  maxKeptRows: 100_000,
  cancelGraceMs: 10_000,
};
