import { type Readable, Transform } from "node:stream";
import { CustodyError, toCustodyError } from "@custody/core";
import { Sha256Hasher } from "./internal/hasher.js";

export interface Sha256Result {
  size: number;
  sha256: string;
}

/**
 * A pass-through for reads: the bytes flow on at once, and at the end the stream fails with
 * ERR_INTEGRITY_MISMATCH (instead of ending) when they do not match the record. A consumer must
 * treat the bytes as unverified until 'end'.
 */
export function createVerifyingStream(expected: { key: string; size: number; sha256: string }): Transform {
  const hash = new Sha256Hasher();
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      hash.digest().then((actual) => {
        if (actual.sha256 === expected.sha256 && actual.size === expected.size) return callback();
        callback(mismatch(expected, actual));
      }, callback);
    },
  });
}

function mismatch(
  expected: { key: string; size: number; sha256: string },
  actual: Sha256Result,
): CustodyError {
  return new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `object ${JSON.stringify(expected.key)} does not match its record: the stored bytes changed`,
    { details: { key: expected.key, expected: { size: expected.size, sha256: expected.sha256 }, actual } },
  );
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
