import { type Clock, formatCollectionSummary, type Logger } from "@custody/core";
import type { ClockState } from "./clock-state.js";
import { toCsv } from "./csv.js";
import type { CollectionSummaryRow } from "./types.js";

type Level = "debug" | "info" | "warn" | "error";

export interface RunLog {
  /** A logger that both keeps the entry for the package and forwards it to the caller's logger. */
  readonly logger: Logger;
  write(level: Level, entry: object, message?: string): void;
  /** The CollectorLog data point's files. */
  files(
    rows: readonly CollectionSummaryRow[],
    clocks: {
      clockAtStart: ClockState;
      clockAtEnd: ClockState;
      clockOffsets?: { start: Record<string, unknown>; end: Record<string, unknown> };
    },
  ): [string, string][];
}

const CLOCK_COLUMNS = [
  "phase",
  "systemTime",
  "timeZone",
  "utcOffsetMinutes",
  "synchronized",
  "syncSource",
] as const;

export function runLog(clock: Clock, forward: Logger): RunLog {
  const lines: string[] = [];
  const write = (level: Level, entry: object, message?: string): void => {
    lines.push(
      JSON.stringify({
        time: clock.now().toISOString(),
        level,
        ...entry,
        ...(message ? { msg: message } : {}),
      }),
    );
    forward[level](entry, message);
  };
  const logger: Logger = {
    debug: (o, m) => write("debug", o, m),
    info: (o, m) => write("info", o, m),
    warn: (o, m) => write("warn", o, m),
    error: (o, m) => write("error", o, m),
  };
  return {
    logger,
    write,
    files(rows, { clockAtStart, clockAtEnd, clockOffsets }) {
      const clockRows = [
        { phase: "start", ...clockAtStart },
        { phase: "end", ...clockAtEnd },
      ];
      const offsets: [string, string][] =
        clockOffsets === undefined
          ? []
          : [["ClockOffset.json", `${JSON.stringify(clockOffsets, null, 2)}\n`]];
      return [
        ["CollectorLog.jsonl", `${lines.join("\n")}\n`],
        ["ClockState.csv", toCsv(CLOCK_COLUMNS, clockRows)],
        ...offsets,
        ["CollectionSummary.csv", formatCollectionSummary(rows)],
      ];
    },
  };
}
