import type { Readable } from "node:stream";
import { type CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import { Sha256Hasher } from "./internal/hasher.js";
import type { VerifyOptions, VerifyResult } from "./types.js";

interface Digest {
  size: number;
  sha256: string;
}

/**
 * Reads every key through the backend's own verifying read, so `verify` checks exactly what a reader
 * would get. Objects deleted while the pass runs are skipped; any other failure is reported, not thrown.
 */
export async function* verifyObjects(
  keys: AsyncIterable<string>,
  read: (key: string) => Promise<Readable>,
  options: VerifyOptions,
): AsyncGenerator<VerifyResult> {
  let total = 0;
  for await (const key of keys) {
    throwIfAborted(options.abortSignal);
    try {
      const digest = await consume(await read(key), (n) => {
        total += n;
        options.onProgress?.(total);
      });
      yield { kind: "ok", key, ...digest };
    } catch (cause) {
      const error = toCustodyError(cause, "ERR_IO", `could not verify ${JSON.stringify(key)}`);
      if (error.code === "ERR_NOT_FOUND") continue;
      yield toResult(key, error);
    }
  }
}

function toResult(key: string, error: CustodyError): VerifyResult {
  const expected = error.details.expected as Digest | undefined;
  const actual = error.details.actual as Digest | undefined;
  if (error.code === "ERR_INTEGRITY_MISMATCH" && expected !== undefined && actual !== undefined) {
    return { kind: "mismatch", key, expected, actual };
  }
  return { kind: "error", key, error };
}

async function consume(stream: Readable, onBytes: (n: number) => void): Promise<Digest> {
  const hash = new Sha256Hasher();
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    onBytes(bytes.byteLength);
  }
  return hash.digest();
}
