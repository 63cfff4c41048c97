import { CustodyError, isCustodyError, toCustodyError } from "@custody/core/errors";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { isClosedPipe } from "./stdout-watch.js";

const MAX_MESSAGE = 300;

/**
 * The one coded error a failure is shown as: a CustodyError as it is; a system error by its errno
 * (ENOSPC and EDQUOT are ERR_STORAGE_FULL); anything else ERR_INTERNAL. The message is one short line,
 * never a stack (the stack goes to the debug log).
 */
export function presentError(error: unknown): CustodyError {
  if (isCustodyError(error)) return error;
  const { code } = toCustodyError(error, "ERR_INTERNAL", "");
  const what =
    code === "ERR_INTERNAL"
      ? "internal error"
      : code === "ERR_STORAGE_FULL"
        ? "disk or quota full"
        : "failed";
  return new CustodyError(code, `${what}: ${firstLine(error)}`, { cause: error });
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}…` : line;
}

/**
 * Last resort for the `custody` process: an error that escaped every command (an 'error' event with no
 * listener, an unhandled rejection) is still shown as `custody: ERR_…: message` with its exit code.
 */
export function installProcessFailureHandlers(): void {
  const fail = (error: unknown): void => {
    if (isClosedPipe(error)) process.exit(EXIT.closedPipe);
    const coded = presentError(error);
    try {
      process.stderr.write(`custody: ${coded.code}: ${coded.message}\n`);
    } finally {
      process.exit(exitCodeFor(coded.code));
    }
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
}
