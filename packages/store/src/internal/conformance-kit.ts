import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { type ErrorCode, isCustodyError } from "@custody/core";
import { expect } from "vitest";

export { type ManualClock, manualClock } from "../manual-clock.js";

export async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === "string" ? Buffer.from(part) : part;
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCustodyError(error, code)) {
    expect.fail(`expected a CustodyError ${code}, got ${error === undefined ? "success" : String(error)}`);
  }
}

/** A body that records whether anyone pulled a chunk from it. */
export function watchedBody(text: string): { body: AsyncIterable<Uint8Array>; pulled: () => boolean } {
  let pulled = false;
  return {
    body: {
      async *[Symbol.asyncIterator]() {
        pulled = true;
        yield Buffer.from(text);
      },
    },
    pulled: () => pulled,
  };
}

/** `size` pseudo-random bytes generated on the fly (never held whole), and their sha256 once consumed. */
export function generatedBody(size: number, chunkSize = 1 << 20): { body: Readable; digest: () => string } {
  const hash = createHash("sha256");
  const base = randomBytes(chunkSize);
  let produced = 0;
  let index = 0;
  const body = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(chunkSize, size - produced);
      const chunk = Buffer.allocUnsafe(length);
      base.copy(chunk, 0, 0, length);
      chunk.writeUInt32BE(index & 0xffffffff, 0);
      index += 1;
      produced += length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  let hex: string | undefined;
  return { body, digest: () => (hex ??= hash.digest("hex")) };
}

/** Samples the resident set while `work` runs; returns the growth above the level before it started. */
export async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 25);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

/** Aborts after the body has yielded `afterChunks` chunks, then keeps yielding until stopped. */
export function abortingBody(controller: AbortController, afterChunks: number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < 10_000; i += 1) {
        if (i === afterChunks) controller.abort(new Error("test abort"));
        yield Buffer.alloc(64 * 1024, i & 0xff);
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
}

export function failingBody(afterChunks: number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < afterChunks; i += 1) yield Buffer.alloc(64 * 1024, 1);
      throw new Error("the source device went away");
    },
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
