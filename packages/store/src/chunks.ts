import type { Readable } from "node:stream";
import { CustodyError } from "@custody/core";

const QUEUE_HIGH_BYTES = 1024 * 1024;

/**
 * Yields a body's chunks one by one. For a Readable it listens to 'data' and keeps a few MiB queued
 * (so reading ahead overlaps with hashing and writing) and pauses above that: `for await` on a Readable
 * calls read(), which concatenates whatever is buffered into a fresh allocation on every turn and made
 * resident memory grow with the transfer rate.
 */
export async function* bodyChunks(body: Readable | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (!isReadable(body)) {
    yield* body;
    return;
  }
  // A stream that already ended or died will never emit 'end' again; waiting for it would hang.
  if (body.errored) throw body.errored;
  if (body.readableEnded) return;
  if (body.destroyed) throw new CustodyError("ERR_INVALID_ARGUMENT", "the body stream was already destroyed");
  const queue: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Uint8Array): void => {
    queue.push(chunk);
    queued += chunk.byteLength;
    if (queued >= QUEUE_HIGH_BYTES) body.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failure ??= error;
    notify();
  };
  const onClose = (): void => {
    if (!ended) failure ??= new CustodyError("ERR_IO", "the body closed before its end");
    notify();
  };
  body.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        queued -= chunk.byteLength;
        yield chunk;
        if (queued < QUEUE_HIGH_BYTES && body.isPaused()) body.resume();
      } else if (failure !== undefined) {
        throw failure;
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    body.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
    if (!ended) body.destroy();
  }
}

function isReadable(body: Readable | AsyncIterable<Uint8Array>): body is Readable {
  const candidate = body as Partial<Readable>;
  return (
    typeof candidate.on === "function" &&
    typeof candidate.pause === "function" &&
    typeof candidate.resume === "function"
  );
}
