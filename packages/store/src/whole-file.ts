import { ReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";

/**
 * The path of a body that is a whole file nobody has read from yet (`fs.createReadStream(path)` with
 * no start, end or fd of its own), or undefined. Such a body is read by the store itself (copied by the
 * kernel on fs, read straight into the upload's block buffers on Azure): the stream is destroyed unread.
 */
export function wholeFileSource(body: Readable | AsyncIterable<Uint8Array>): string | undefined {
  if (!(body instanceof ReadStream)) return undefined;
  const stream = body as ReadStream & { start?: number; end?: number; fd?: number | null };
  const whole =
    typeof stream.path === "string" &&
    stream.start === undefined &&
    (stream.end === undefined || stream.end === Number.POSITIVE_INFINITY) &&
    stream.bytesRead === 0 &&
    stream.readableFlowing === null &&
    !stream.destroyed;
  if (!whole) return undefined;
  // A regular file with bytes: the kernel copies what its size says (a FIFO or a /proc file says 0).
  const info = statSync(stream.path, { throwIfNoEntry: false });
  if (info === undefined || !info.isFile() || info.size === 0) return undefined;
  // Its own descriptor is not needed: close it (a failed open then has nobody to tell).
  stream.on("error", () => {});
  stream.destroy();
  return stream.path as string;
}
