import {
  byteSizeSchema,
  digestSetSchema,
  isoTimestampSchema,
  md5HexSchema,
  sha1HexSchema,
  sha256HexSchema,
  sha512HexSchema,
} from "@custody/core";
import { describe, expect, it } from "vitest";

describe("shared schemas", () => {
  it("hex digests are lower case and exactly as long as the algorithm's output", () => {
    const cases = [
      [sha256HexSchema, 64],
      [sha1HexSchema, 40],
      [md5HexSchema, 32],
      [sha512HexSchema, 128],
    ] as const;
    for (const [schema, length] of cases) {
      expect(schema.safeParse("a".repeat(length)).success).toBe(true);
      expect(schema.safeParse("A".repeat(length)).success).toBe(false);
      expect(schema.safeParse("a".repeat(length - 1)).success).toBe(false);
      expect(schema.safeParse("a".repeat(length + 1)).success).toBe(false);
      expect(schema.safeParse(`${"a".repeat(length - 1)}g`).success).toBe(false);
      expect(schema.safeParse(`${"a".repeat(length)}\n`).success).toBe(false);
    }
  });

  it("a digest set needs sha256 and refuses unknown algorithms", () => {
    const sha256 = "0".repeat(64);
    expect(digestSetSchema.parse({ sha256, md5: "1".repeat(32) })).toEqual({ sha256, md5: "1".repeat(32) });
    expect(digestSetSchema.safeParse({ md5: "1".repeat(32) }).success).toBe(false);
    expect(digestSetSchema.safeParse({ sha256, crc32: "00000000" }).success).toBe(false);
    expect(digestSetSchema.safeParse({ sha256, sha1: "short" }).success).toBe(false);
  });

  it("timestamps are what Date.toISOString writes, in UTC", () => {
    expect(isoTimestampSchema.safeParse(new Date(0).toISOString()).success).toBe(true);
    for (const bad of ["2026-01-01T00:00:00+02:00", "2026-01-01", "2026-01-01T00:00:00Z", "yesterday"]) {
      expect(isoTimestampSchema.safeParse(bad).success).toBe(false);
    }
  });

  it("byte sizes are non-negative safe integers", () => {
    for (const good of [0, 1, Number.MAX_SAFE_INTEGER])
      expect(byteSizeSchema.safeParse(good).success).toBe(true);
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN, "1"]) {
      expect(byteSizeSchema.safeParse(bad).success).toBe(false);
    }
  });
});
