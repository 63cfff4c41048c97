import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import { CustodyError, throwIfAborted } from "@custody/core";
import type { AgentPolicy } from "../policy-types.js";
import type { TransferBody } from "../schemas.js";
import { READ_BYTES, readAt } from "./file-chunks.js";
import { checkedPath, openRegular } from "./paths.js";

/**
 * Writes the file's bytes from `offset` to the end into `sink` (without ending it) and resolves once
 * `sink` has taken every one (each write's callback). A resumed PUT passes its offset; the whole file is
 * checked against the digest all the same. A chunk's buffer is reused once its write's callback has run:
 * a sink that keeps chunks past that must copy them.
 */
export type FileBody = (offset: number, sink: Writable) => Promise<void>;

/** Sends the file's bytes to the transfer URL (the runtime does it over mTLS); resolves once stored. */
export type Uploader = (
  transfer: TransferBody,
  body: FileBody,
  size: number,
  signal: AbortSignal,
) => Promise<void>;

export interface GetFileOptions {
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
  transfer: TransferBody | undefined;
  upload: Uploader | undefined;
}

/** Buffers in turn: one read and hashed while up to three are being written. */
const BUFFERS = 4;

interface Expected {
  sha256: string;
  size: number;
}

/**
 * Reads the whole file, hashing it, and writes the bytes from `skip` on. The last chunk is held back
 * until the whole file hashes to what the fileinfo prerequisite reported and nothing follows it: a file
 * that changed since fails (ERR_FILE_CHANGED) with its body incomplete, so the server never sees a whole
 * upload to store.
 */
async function sendChecked(
  handle: FileHandle,
  sink: Writable,
  expected: Expected,
  skip: number,
  signal: AbortSignal,
): Promise<void> {
  const hash = createHash("sha256");
  const buffers = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafe(READ_BYTES));
  const writes: Promise<void>[] = [];
  let position = 0;
  try {
    for (let turn = 0; position < expected.size; turn = (turn + 1) % BUFFERS) {
      throwIfAborted(signal);
      await writes[turn]; // its buffer is free again
      const buffer = (buffers[turn] as Buffer).subarray(0, Math.min(READ_BYTES, expected.size - position));
      const bytesRead = await readAt(handle, buffer, position);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      const start = position;
      position += bytesRead;
      if (position === expected.size) await checkWhole(handle, hash.digest("hex"), position, expected);
      if (position > skip) writes[turn] = written(sink, start >= skip ? chunk : chunk.subarray(skip - start));
    }
    if (position < expected.size || expected.size === 0)
      await checkWhole(handle, hash.digest("hex"), position, expected);
    await Promise.all(writes);
  } finally {
    await Promise.allSettled(writes);
  }
}

/** The file read now is the one fileinfo reported: its size, its digest, and no byte past its end. */
async function checkWhole(handle: FileHandle, sha256: string, size: number, expected: Expected) {
  if ((await readAt(handle, Buffer.allocUnsafe(1), size)) > 0)
    throw changed(`the file grew past ${expected.size} bytes while it was sent`);
  if (size !== expected.size || sha256 !== expected.sha256)
    throw changed(`the file read now (${size} bytes, sha256 ${sha256}) is not the one fileinfo reported`);
}

/** One write; settles when `sink` is done with the chunk (a failure is seen where it is awaited). */
function written(sink: Writable, chunk: Buffer): Promise<void> {
  const done = new Promise<void>((resolve, reject) =>
    sink.write(chunk, (error) => (error ? reject(error) : resolve())),
  );
  done.catch(() => undefined);
  return done;
}

function changed(message: string): CustodyError {
  return new CustodyError("ERR_FILE_CHANGED", message);
}

export async function getFile(input: string, options: GetFileOptions): Promise<Record<string, unknown>> {
  const { transfer, upload } = options;
  if (transfer === undefined || upload === undefined)
    throw new CustodyError("ERR_PROTOCOL", "getfile came without a transfer");
  const path = await checkedPath(input, options.cwd, options.policy);
  const { handle, stats } = await openRegular(path, options.policy);
  try {
    const limit = Math.min(options.policy.maxGetfileBytes, transfer.maxBytes);
    if (stats.size > limit)
      throw new CustodyError(
        "ERR_SIZE_LIMIT",
        `${path} is ${stats.size} bytes, over the ${limit}-byte getfile limit`,
        { details: { size: stats.size, limit } },
      );
    if (stats.size !== transfer.expectedSize)
      throw changed(`${path} is ${stats.size} bytes now, ${transfer.expectedSize} when fileinfo read it`);
    throwIfAborted(options.signal);
    const expected = { sha256: transfer.expectedSha256, size: transfer.expectedSize };
    const body: FileBody = (offset, sink) => sendChecked(handle, sink, expected, offset, options.signal);
    await upload(transfer, body, stats.size, options.signal);
    return { path, size: stats.size, sha256: transfer.expectedSha256 };
  } finally {
    await handle.close();
  }
}
