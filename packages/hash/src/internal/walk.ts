import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core/errors";

/** Something found below the root, not yet read. Paths are relative, '/'-separated. */
export type WalkItem =
  | { kind: "file" | "symlink"; path: string; absolute: string }
  | { kind: "other"; path: string; type: OtherType }
  | { kind: "error"; path: string; error: CustodyError };

export type OtherType = "fifo" | "socket" | "block-device" | "character-device" | "unknown";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lossy = new TextDecoder("utf-8");

interface Child {
  name: string;
  dirent: Dirent<Buffer>;
  /** Directories sort as "name/", which puts the whole walk in plain sorted-path order. */
  key: string;
}

/**
 * Depth-first walk in sorted relative-path order (UTF-16 code units), one directory listing in
 * memory at a time. Never follows a symlink; a directory that cannot be listed becomes an error item.
 */
export async function* walkTree(
  absolute: string,
  prefix: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<WalkItem> {
  throwIfAborted(signal);
  let dirents: Dirent<Buffer>[];
  try {
    dirents = await readdir(absolute, { withFileTypes: true, encoding: "buffer" });
  } catch (cause) {
    if (prefix === "") throw toCustodyError(cause, "ERR_IO", `cannot list ${absolute}`);
    yield { kind: "error", path: prefix.slice(0, -1), error: toCustodyError(cause, "ERR_IO", "cannot list") };
    return;
  }
  for (const child of sortedChildren(dirents)) {
    const path = prefix + child.name;
    if (child.key.length === 0) {
      const shown = prefix + lossy.decode(child.dirent.name);
      yield { kind: "error", path: shown, error: badName(shown) };
    } else if (child.dirent.isDirectory()) {
      yield* walkTree(join(absolute, child.name), `${path}/`, signal);
    } else if (child.dirent.isFile() || child.dirent.isSymbolicLink()) {
      const kind = child.dirent.isFile() ? "file" : "symlink";
      yield { kind, path, absolute: join(absolute, child.name) };
    } else {
      yield { kind: "other", path, type: otherType(child.dirent) };
    }
  }
}

function sortedChildren(dirents: Dirent<Buffer>[]): Child[] {
  const children = dirents.map((dirent): Child => {
    const name = decodeName(dirent.name);
    const key = name === undefined ? "" : dirent.isDirectory() ? `${name}/` : name;
    return { name: name ?? "", dirent, key };
  });
  return children.sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : Buffer.compare(a.dirent.name, b.dirent.name),
  );
}

// A name that is not UTF-8 cannot be written in a manifest or opened again from its string form.
function decodeName(name: Buffer): string | undefined {
  try {
    return utf8.decode(name);
  } catch {
    return undefined;
  }
}

function badName(path: string): CustodyError {
  return new CustodyError("ERR_UNSAFE_PATH", `the name ${JSON.stringify(path)} is not valid UTF-8`, {
    details: { path },
  });
}

export function otherType(entry: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
}): OtherType {
  if (entry.isFIFO()) return "fifo";
  if (entry.isSocket()) return "socket";
  if (entry.isBlockDevice()) return "block-device";
  if (entry.isCharacterDevice()) return "character-device";
  return "unknown";
}
