import { createHash, type Hash } from "node:crypto";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { CustodyError, toCustodyError } from "@custody/core";

export interface Sha256Result {
  size: number;
  sha256: string;
}

/** A pass-through that hashes and counts what flows through it (one read, hash while copying). */
export class MeteringStream extends Transform {
  readonly #hash: Hash = createHash("sha256");
  readonly #onProgress: ((bytes: number) => void) | undefined;
  #size = 0;
  #digest: string | undefined;

  constructor(onProgress?: (bytes: number) => void) {
    super({ highWaterMark: 1 << 20 });
    this.#onProgress = onProgress;
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!(chunk instanceof Uint8Array)) {
      callback(new CustodyError("ERR_INVALID_ARGUMENT", "the body yielded something that is not bytes"));
      return;
    }
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
    this.#onProgress?.(this.#size);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest("hex");
    callback();
  }

  /** Available once the stream has finished. */
  result(): Sha256Result {
    if (this.#digest === undefined) throw new CustodyError("ERR_INTERNAL", "digest read before the end");
    return { size: this.#size, sha256: this.#digest };
  }
}

/**
 * A pass-through for reads: the bytes flow on at once, and at the end the stream fails with
 * ERR_INTEGRITY_MISMATCH (instead of ending) when they do not match the record. A consumer must
 * treat the bytes as unverified until 'end'.
 */
export function createVerifyingStream(expected: { key: string; size: number; sha256: string }): Transform {
  const hash = createHash("sha256");
  let size = 0;
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.byteLength;
      callback(null, chunk);
    },
    flush(callback) {
      const sha256 = hash.digest("hex");
      if (sha256 === expected.sha256 && size === expected.size) return callback();
      callback(
        new CustodyError(
          "ERR_INTEGRITY_MISMATCH",
          `object ${JSON.stringify(expected.key)} does not match its record: the stored bytes changed`,
          {
            details: {
              key: expected.key,
              expected: { size: expected.size, sha256: expected.sha256 },
              actual: { size, sha256 },
            },
          },
        ),
      );
    },
  });
}

/**
 * Pipes `source` through a verifying stream and returns the latter; source errors and aborts surface as
 * coded errors on the returned stream, and destroying it releases the source.
 */
export function verifiedReadable(
  source: Readable,
  expected: { key: string; size: number; sha256: string },
  abortSignal?: AbortSignal,
): Readable {
  const verifier = createVerifyingStream(expected);
  const onAbort = (): void => {
    verifier.destroy(new CustodyError("ERR_ABORTED", "the read was aborted", { cause: abortSignal?.reason }));
  };
  source.on("error", (error) =>
    verifier.destroy(toCustodyError(error, "ERR_IO", `could not read ${expected.key}`)),
  );
  verifier.once("close", () => {
    abortSignal?.removeEventListener("abort", onAbort);
    source.destroy();
  });
  abortSignal?.addEventListener("abort", onAbort, { once: true });
  if (abortSignal?.aborted) onAbort();
  source.pipe(verifier);
  return verifier;
}
