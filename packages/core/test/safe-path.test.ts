import {
  assertSafeRelativePath,
  findPathCollision,
  isCustodyError,
  pathCollisionKey,
  safeRelativePathSchema,
  unsafePathReason,
} from "@custody/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const HOSTILE: [string, string][] = [
  ["", "empty"],
  ["/etc/passwd", "absolute"],
  ["../up", "'..'"],
  ["a/../../b", "'..'"],
  ["..", "'..'"],
  ["./a", "'.'"],
  ["a/./b", "'.'"],
  ["a//b", "empty"],
  ["a/", "empty"],
  ["C:/Windows", "drive"],
  ["c:evil", "drive"],
  ["a\\..\\b", "backslash"],
  ["nul\u0000byte", "control"],
  ["new\nline", "control"],
  ["del\u007f", "control"],
  ["lone\ud800", "surrogate"],
  [`${"a/".repeat(2049)}a`, "longer than 4096"],
  ["x".repeat(256), "segment"],
  ["a/report.", "dot or a space"],
  ["a/report ", "dot or a space"],
  ["dir./b", "dot or a space"],
  ["a..", "dot or a space"],
  ["evil.txt:hidden", "':'"],
  ["CON", "device name CON"],
  ["a/con.txt", "device name CON"],
  ["Nul.tar.gz", "device name NUL"],
  ["aux .log", "device name AUX"],
  ["COM1", "device name COM1"],
  ["lpt9.txt", "device name LPT9"],
  ["com\u00b9", "device name"],
  ["CONOUT$", "device name"],
  ["invoice\u202Efdp.exe", "bidirectional"],
  ["a\u200Bb", "zero-width"],
  ["\uFEFFbom.txt", "zero-width"],
  ["x\u2066y", "zero-width"],
];

const SAFE = [
  "a",
  "a/b/c.txt",
  "é/ü",
  "..a",
  "a..b",
  "console.log",
  "com10",
  "lpt",
  "nul_",
  "CON_1/x",
  ".hidden",
  "a b",
  "日本/語",
  "x".repeat(255),
  "😀",
];

describe("safe relative paths", () => {
  it.each(HOSTILE)("refuses %j (%s)", (path, reason) => {
    expect(unsafePathReason(path)).toContain(reason);
    try {
      assertSafeRelativePath(path, "item path");
      expect.unreachable();
    } catch (error) {
      expect(isCustodyError(error, "ERR_UNSAFE_PATH")).toBe(true);
      expect((error as Error).message).toMatch(/^item path /);
      expect((error as { details: { path: string } }).details.path).toBe(path);
    }
    expect(safeRelativePathSchema.safeParse(path).success).toBe(false);
  });

  it.each(SAFE)("accepts %j", (path) => {
    expect(unsafePathReason(path)).toBeUndefined();
    expect(() => assertSafeRelativePath(path)).not.toThrow();
    expect(safeRelativePathSchema.parse(path)).toBe(path);
  });

  it("never calls a path that climbs out of its root safe", () => {
    const segment = fc.constantFrom("a", "..", ".", "", "b", "\\", "/x", "c:");
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (parts) => {
        const path = parts.join("/");
        if (unsafePathReason(path) !== undefined) return true;
        let depth = 0;
        for (const part of path.split("/")) {
          depth += part === ".." ? -1 : 1;
          if (depth < 0) return false;
        }
        return !path.startsWith("/") && !path.includes("\\");
      }),
    );
  });
});

describe("path collisions", () => {
  it("folds case and Unicode normalization", () => {
    expect(pathCollisionKey("Report.PDF")).toBe(pathCollisionKey("report.pdf"));
    expect(pathCollisionKey("caf\u00e9")).toBe(pathCollisionKey("cafe\u0301"));
    expect(pathCollisionKey("STRASSE")).toBe(pathCollisionKey("straße"));
    expect(pathCollisionKey("a/b")).not.toBe(pathCollisionKey("a_b"));
  });

  it("folds what Windows drops: trailing dots and spaces of every segment, invisible characters", () => {
    expect(pathCollisionKey("Data./x. ")).toBe(pathCollisionKey("data/x"));
    expect(pathCollisionKey("a\u200Bb/c\uFEFF")).toBe(pathCollisionKey("ab/c"));
    expect(pathCollisionKey("data/x")).not.toBe(pathCollisionKey("data/y"));
  });

  it("finds the first colliding pair, or none", () => {
    expect(findPathCollision(["a", "b/C.txt", "d", "B/c.txt", "b/c.TXT"])).toEqual(["b/C.txt", "B/c.txt"]);
    expect(findPathCollision(["caf\u00e9", "cafe\u0301"])).toEqual(["caf\u00e9", "cafe\u0301"]);
    expect(findPathCollision(["a", "b", "a/b"])).toBeUndefined();
    expect(findPathCollision([])).toBeUndefined();
  });

  it("keys are stable: folding a key again changes nothing", () => {
    fc.assert(fc.property(fc.string(), (s) => pathCollisionKey(pathCollisionKey(s)) === pathCollisionKey(s)));
  });
});
