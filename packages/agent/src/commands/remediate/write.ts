import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { CustodyError, toCustodyError } from "@custody/core";

export interface Expected {
  sha256: string;
  size: number;
  mode: number;
}

/**
 * Writes `body` to a new private file beside `path` (O_EXCL, never following a link), hashing it; the
 * bytes must be the expected ones, then the file gets its mode and takes `path`'s name: `link` (fails if
 * something is there: ERR_FILE_EXISTS) or, with `replace`, an atomic `rename` over it.
 */
export async function writeChecked(
  path: string,
  body: Readable,
  expected: Expected,
  options: { replace: boolean; signal: AbortSignal },
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.custody-${randomBytes(6).toString("hex")}`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  ).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot write beside ${path}`);
  });
  let placed = false;
  try {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of body) {
      if (options.signal.aborted) throw new CustodyError("ERR_ABORTED", "stopped");
      const bytes = chunk as Buffer;
      size += bytes.length;
      if (size > expected.size) break;
      hash.update(bytes);
      await handle.write(bytes);
    }
    const sha256 = hash.digest("hex");
    if (size !== expected.size || sha256 !== expected.sha256)
      throw new CustodyError(
        "ERR_INTEGRITY_MISMATCH",
        `the bytes received for ${path} are not the expected ones (sha256 ${expected.sha256}, ${expected.size} bytes)`,
        { details: { path, expected: expected.sha256 } },
      );
    await handle.datasync();
    await handle.close();
    await chmod(temp, expected.mode & 0o7777);
    if (options.replace) await rename(temp, path);
    else
      await link(temp, path).catch((cause: unknown) => {
        if ((cause as { code?: string }).code === "EEXIST")
          throw new CustodyError("ERR_FILE_EXISTS", `${path} exists; nothing was written`, {
            details: { path },
          });
        throw toCustodyError(cause, "ERR_IO", `cannot create ${path}`);
      });
    placed = options.replace;
  } finally {
    await handle.close().catch(() => undefined);
    if (!placed) await unlink(temp).catch(() => undefined);
  }
}
