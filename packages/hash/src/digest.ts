import type { Readable } from "node:stream";
import { Transform, type TransformCallback } from "node:stream";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core/errors";
import { type DigestResult, type HashAlgorithm, resolveAlgorithms } from "./algorithms.js";
import { MultiHash } from "./internal/multi-hash.js";

export interface HashOptions {
  /** Digests to compute in the one read; default `["sha256"]`. */
  algorithms?: readonly HashAlgorithm[];
  abortSignal?: AbortSignal;
  /** Called after each chunk with the bytes hashed so far. */
  onProgress?: (bytesHashed: number) => void;
}

/**
 * Digests everything `stream` yields. A read error rejects (no digest of a partial input is ever
 * returned); an abort destroys the stream and rejects with ERR_ABORTED.
 */
export async function hashStream(
  stream: Readable | AsyncIterable<Uint8Array>,
  options: HashOptions = {},
): Promise<DigestResult> {
  if (!isAsyncIterable(stream)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      "hashStream needs a Readable or an async iterable of bytes",
    );
  }
  const hasher = new MultiHash(resolveAlgorithms(options.algorithms));
  const signal = options.abortSignal;
  throwIfAborted(signal);
  const onAbort = () => destroyOnAbort(stream, signal);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      throwIfAborted(signal);
      hasher.update(asBytes(chunk));
      options.onProgress?.(hasher.size);
    }
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", "reading the stream to hash failed");
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  throwIfAborted(signal);
  return hasher.result();
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === "function";
}

function destroyOnAbort(stream: Readable | AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): void {
  const error = new CustodyError("ERR_ABORTED", "the operation was aborted", { cause: signal?.reason });
  if ("destroy" in stream && typeof stream.destroy === "function") stream.destroy(error);
}

// A string chunk means someone set an encoding: its bytes are no longer the evidence's bytes.
function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new CustodyError(
    "ERR_INVALID_ARGUMENT",
    `the stream yielded ${typeof chunk} chunks; hash a byte stream (no setEncoding, no object mode)`,
  );
}

/** A pass-through that digests what flows through it, so a copy and its digest come from one read. */
export class DigestStream extends Transform {
  readonly algorithms: readonly HashAlgorithm[];
  readonly #hasher: MultiHash;
  #result: DigestResult | undefined;

  constructor(options: { algorithms?: readonly HashAlgorithm[] } = {}) {
    super();
    this.algorithms = resolveAlgorithms(options.algorithms);
    this.#hasher = new MultiHash(this.algorithms);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#hasher.size;
  }

  /** The digests of everything written; available from the 'finish' event on. */
  result(): DigestResult {
    if (this.#result === undefined) {
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        "DigestStream.result() is only available after 'finish'",
      );
    }
    return this.#result;
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const bytes = asBytes(chunk);
      this.#hasher.update(bytes);
      callback(null, bytes);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    this.#result = this.#hasher.result();
    callback();
  }
}

/** `source.pipe(createDigestStream()).pipe(destination)`; read `.result()` after 'finish'. */
export function createDigestStream(options: { algorithms?: readonly HashAlgorithm[] } = {}): DigestStream {
  return new DigestStream(options);
}
