import { toCustodyError } from "@custody/core/errors";

/** Thrown by a write once stdout's reader has gone; the CLI then ends quietly (EXIT.closedPipe). */
export class StdoutClosedError extends Error {
  constructor() {
    super("stdout was closed by its reader");
    this.name = "StdoutClosedError";
  }
}

export interface StdoutWatch {
  /** The reader closed the pipe (EPIPE): output is pointless, and no message is due. */
  readonly closed: boolean;
  /** A write that failed for another reason (a full disk behind `> file`), reported as the command's error. */
  readonly failure: Error | undefined;
  /** Writes `text`, or throws once stdout is closed or has failed, so long work stops at the next line. */
  write(text: string): void;
}

/**
 * Watches stdout for errors. Without a listener an EPIPE (`custody list | head -1`) or an ENOSPC would
 * be an uncaught exception with a stack trace.
 */
export function watchStdout(stream: NodeJS.WritableStream): StdoutWatch {
  let closed = false;
  let failure: Error | undefined;
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") closed = true;
    else failure ??= error;
  });
  return {
    get closed() {
      return closed;
    },
    get failure() {
      return failure;
    },
    write(text) {
      if (closed) throw new StdoutClosedError();
      if (failure !== undefined) throw toCustodyError(failure, "ERR_IO", "cannot write to stdout");
      stream.write(text);
    },
  };
}

/** Nothing can be reported when stderr itself is gone; keep that from becoming an uncaught exception. */
export function ignoreStderrErrors(stream: NodeJS.WritableStream): void {
  stream.on("error", () => {});
}

/**
 * Waits until what was written to a file descriptor (process.stdout) has left the process or failed,
 * so a reader that goes away mid-output is known before the exit code is decided. A stream without a
 * descriptor (a test's PassThrough) is not waited for: nobody may be reading it.
 */
export async function settle(stream: NodeJS.WritableStream): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const writable = stream as NodeJS.WritableStream & {
    fd?: unknown;
    writableLength?: number;
    destroyed?: boolean;
  };
  if (typeof writable.fd !== "number" || !writable.writableLength || writable.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      for (const event of ["drain", "error", "close"]) stream.off(event, done);
      resolve();
    };
    for (const event of ["drain", "error", "close"]) stream.once(event, done);
  });
  await new Promise((resolve) => setImmediate(resolve));
}

export function isClosedPipe(error: unknown): boolean {
  if (error instanceof StdoutClosedError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED";
}
