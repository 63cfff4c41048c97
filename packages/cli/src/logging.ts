import { createRequire } from "node:module";
import type { Logger } from "@custody/core";
import { CustodyError } from "@custody/core/errors";
import type { pino as Pino } from "pino";

/** pino's levels; `silent` turns every log line off. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LOG_LEVEL: LogLevel = "warn";

/**
 * Takes the global `--log-level LEVEL` (or `--log-level=LEVEL`) out of argv wherever it stands before
 * `--`; the level falls back to $CUSTODY_LOG_LEVEL, then warn.
 */
export function takeLogLevel(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { argv: string[]; level: LogLevel } {
  const rest: string[] = [];
  let given: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--log-level") {
      given = argv[i + 1];
      if (given === undefined) throw new CustodyError("ERR_USAGE", "--log-level needs a LEVEL");
      i++;
    } else if (arg.startsWith("--log-level=")) given = arg.slice("--log-level=".length);
    else rest.push(arg);
  }
  return { argv: rest, level: parseLevel(given ?? env.CUSTODY_LOG_LEVEL ?? DEFAULT_LOG_LEVEL) };
}

function parseLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new CustodyError(
    "ERR_USAGE",
    `--log-level (or CUSTODY_LOG_LEVEL) is one of ${LOG_LEVELS.join(", ")}, got '${value}'`,
  );
}

/**
 * The logger every library call gets, on stderr so stdout stays data only: JSON lines for scripts and
 * log shippers, one readable line per message when a person is watching the terminal.
 */
export function createCliLogger(level: LogLevel, stderr: NodeJS.WritableStream): Logger {
  const terminal = (stderr as { isTTY?: boolean }).isTTY === true;
  let logger: Logger | undefined;
  // pino is loaded at the first line logged: most runs log nothing, and start-up time is the user's.
  const real = (): Logger => {
    logger ??= loadPino()({ level, base: { name: "custody" } }, terminal ? readableLines(stderr) : stderr);
    return logger;
  };
  const at = (method: keyof Logger) =>
    // A line below the level would be dropped by pino anyway: no need to load it for that.
    LOG_LEVELS.indexOf(method) > LOG_LEVELS.indexOf(level)
      ? ignore
      : (...args: Parameters<Logger["debug"]>) => real()[method](...args);
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function loadPino(): typeof Pino {
  return (createRequire(import.meta.url)("pino") as { pino: typeof Pino }).pino;
}

const ignore = (): void => {};

/** Logs nothing: the logger before --log-level is read. */
export const quietLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  60: "fatal",
  50: "error",
  40: "warning",
  30: "info",
  20: "debug",
  10: "trace",
};

/** `custody: warning: source not fully read (dataPoint=Processes, code=ERR_PERMISSION)`. */
function readableLines(stderr: NodeJS.WritableStream): { write(line: string): void } {
  return {
    write(line: string) {
      try {
        const {
          level,
          msg,
          time: _time,
          name: _name,
          pid: _pid,
          hostname: _host,
          ...rest
        } = JSON.parse(line);
        const fields = Object.entries(rest)
          .filter(([, value]) => value !== null && typeof value !== "object")
          .map(([key, value]) => `${key}=${String(value)}`)
          .join(", ");
        const text = msg ?? rest.event ?? "";
        // Clears a progress line being drawn on the same terminal, so the message starts a line of its own.
        const clear = "\r\u001b[2K";
        stderr.write(
          `${clear}custody: ${LEVEL_NAMES[level] ?? level}: ${text}${fields === "" ? "" : ` (${fields})`}\n`,
        );
      } catch {
        stderr.write(line);
      }
    },
  };
}
