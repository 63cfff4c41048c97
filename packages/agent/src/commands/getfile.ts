import { createHash } from "node:crypto";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { CustodyError, throwIfAborted } from "@custody/core";
import type { AgentPolicy } from "../policy-types.js";
import type { TransferBody } from "../schemas.js";
import { checkedPath, openRegular } from "./paths.js";

/**
 * Sends the file's bytes to the transfer URL (the runtime does it over mTLS); resolves once stored.
 * `body(offset)` gives the bytes from `offset` to the end (a resumed PUT), checked against the digest
 * over the whole file all the same.
 */
export type Uploader = (
  transfer: TransferBody,
  body: (offset: number) => Readable,
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

/**
 * Hashes what flows through and holds back the last chunk until the end: only when the whole file hashes
 * to what the fileinfo prerequisite reported is that chunk passed on. A file that changed since then
 * fails (ERR_FILE_CHANGED) with its body incomplete, so the server never sees a whole upload to store.
 * A resumed upload reads the whole file again but passes on only the bytes from `skip` on.
 */
class ExpectedHash extends Transform {
  readonly #hash = createHash("sha256");
  #bytes = 0;
  #held: Buffer | undefined;

  constructor(
    private readonly expectedSha256: string,
    private readonly expectedSize: number,
    private readonly skip: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const start = this.#bytes;
    this.#bytes += chunk.length;
    if (this.#bytes > this.expectedSize) {
      callback(changed(`the file grew past ${this.expectedSize} bytes while it was sent`));
      return;
    }
    this.#hash.update(chunk);
    if (this.#bytes <= this.skip) {
      callback();
      return;
    }
    const previous = this.#held;
    this.#held = start >= this.skip ? chunk : chunk.subarray(this.skip - start);
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.#hash.digest("hex");
    const same = this.#bytes === this.expectedSize && sha256 === this.expectedSha256;
    const message = `the file read now (${this.#bytes} bytes, sha256 ${sha256}) is not the one fileinfo reported`;
    callback(same ? null : changed(message), same ? this.#held : undefined);
  }
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
    const body = (offset: number) => {
      const source = handle.createReadStream({
        autoClose: false,
        start: 0,
        highWaterMark: 1024 * 1024,
        signal: options.signal,
      });
      const checked = source.pipe(new ExpectedHash(transfer.expectedSha256, transfer.expectedSize, offset));
      source.on("error", (error) => checked.destroy(error));
      return checked;
    };
    await upload(transfer, body, stats.size, options.signal);
    return { path, size: stats.size, sha256: transfer.expectedSha256 };
  } finally {
    await handle.close();
  }
}
