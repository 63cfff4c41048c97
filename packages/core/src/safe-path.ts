import { CustodyError } from "./errors.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const DRIVE = /^[A-Za-z]:/;
const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;

/** Why a relative path is unsafe, or undefined when it is safe. Shared by manifests and archive readers. */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return "it is empty";
  if (CONTROL.test(path)) return "it contains NUL or a control character";
  if (path.includes("\\")) return "it contains a backslash";
  if (path.startsWith("/")) return "it is absolute";
  if (DRIVE.test(path)) return "it starts with a drive letter";
  if (!path.isWellFormed()) return "it contains a lone surrogate";
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `it is longer than ${MAX_PATH_BYTES} bytes`;
  for (const segment of path.split("/")) {
    if (segment === "..") return "it contains '..'";
    if (segment === "." || segment === "") return "it contains an empty or '.' segment";
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      return `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/** Throws ERR_UNSAFE_PATH unless `path` is a plain relative path with '/' separators. */
export function assertSafeRelativePath(path: string, what = "path"): void {
  const reason = unsafePathReason(path);
  if (reason !== undefined) {
    throw new CustodyError("ERR_UNSAFE_PATH", `${what} ${JSON.stringify(path)} is unsafe: ${reason}`, {
      details: { path },
    });
  }
}

/**
 * The key under which two paths collide on a case-insensitive or normalizing filesystem
 * (macOS, Windows): Unicode NFC plus a case fold. Two distinct paths with one key are duplicates.
 */
export function pathCollisionKey(path: string): string {
  return path.normalize("NFC").toUpperCase().toLowerCase().normalize("NFC");
}

/** Finds the first pair of paths that collide, so readers can refuse look-alike duplicates. */
export function findPathCollision(paths: Iterable<string>): [string, string] | undefined {
  const seen = new Map<string, string>();
  for (const path of paths) {
    const key = pathCollisionKey(path);
    const earlier = seen.get(key);
    if (earlier !== undefined) return [earlier, path];
    seen.set(key, path);
  }
  return undefined;
}
