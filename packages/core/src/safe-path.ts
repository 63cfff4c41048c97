import { CustodyError } from "./errors.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const DRIVE = /^[A-Za-z]:/;
const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;
// Bidirectional controls and zero-width characters: a name that shows as another (U+202E turns
// "gpj.exe" into "exe.jpg" on screen) or hides a difference ("a\u200Bb" looks like "ab").
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, "g");
// Windows opens the device, not a file, for these names with any extension and in any case.
const DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|(com|lpt)[0-9\u00b9\u00b2\u00b3])$/i;

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
    const portable = nonPortableReason(segment);
    if (portable !== undefined) return portable;
  }
  return undefined;
}

/** Names that Windows or macOS would store as another name, open as something else, or show misleadingly. */
function nonPortableReason(segment: string): string | undefined {
  if (segment.includes(":")) return "it contains ':' (an NTFS alternate data stream)";
  if (/[. ]$/.test(segment)) return "a segment ends with a dot or a space (Windows drops them)";
  if (INVISIBLE.test(segment)) return "it contains a bidirectional control or a zero-width character";
  const stem = segment.split(".")[0]?.trimEnd() ?? segment;
  if (DEVICE.test(stem)) return `a segment is the Windows device name ${stem.toUpperCase()}`;
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
 * (macOS, Windows): invisible characters dropped, Unicode NFC, a case fold, and the trailing dots and
 * spaces Windows strips removed from each segment. Two distinct paths with one key are duplicates.
 */
export function pathCollisionKey(path: string): string {
  const folded = path.replace(INVISIBLE_ALL, "").normalize("NFC").toUpperCase().toLowerCase();
  return folded
    .split("/")
    .map((segment) => segment.replace(/[. ]+$/, ""))
    .join("/")
    .normalize("NFC");
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
