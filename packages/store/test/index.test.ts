import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import * as store from "@custody/store";
import * as conformance from "@custody/store/conformance";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

describe("@custody/store public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(store).sort()).toEqual(
      [
        "EARLY_COPY_MAX_BYTES",
        "EVIDENCE_KEY_PATTERN",
        "FsEvidenceStore",
        "assertBody",
        "bodyChunks",
        "assertValidKey",
        "assertValidPrefix",
        "createVerifyingStream",
        "evidenceKeySchema",
        "objectMetadataSchema",
        "startEarlyCopy",
        "validRetention",
        "validateCreateOptions",
        "verifiedReadable",
        "verifyObjects",
        "wholeFileSource",
      ].sort(),
    );
    expect(Object.keys(conformance).sort()).toEqual(["testEvidenceStore"]);
  });

  it("opens a store whose capabilities say the library enforces everything", async () => {
    const dir = await mkdtemp(join(tmpdir(), "custody-store-index-"));
    try {
      const fs = await store.FsEvidenceStore.open(dir);
      expect(fs.capabilities).toEqual({
        backend: "fs",
        immutability: "library",
        retention: "library",
        legalHold: "library",
        resumableUploads: false,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the evidence key grammar", () => {
  it("accepts plain keys and refuses hostile ones with a stable code", () => {
    for (const key of ["a", "case-1/item_2.bin", "A/B/C", `${"x".repeat(128)}/y`, "sha256/ab/abcdef0123"]) {
      expect(() => store.assertValidKey(key)).not.toThrow();
    }
    const cases: [unknown, string][] = [
      ["../x", "ERR_UNSAFE_PATH"],
      ["a/../b", "ERR_UNSAFE_PATH"],
      ["/etc/passwd", "ERR_UNSAFE_PATH"],
      ["C:/x", "ERR_UNSAFE_PATH"],
      ["a\\b", "ERR_UNSAFE_PATH"],
      ["a\nb", "ERR_UNSAFE_PATH"],
      [".git/config", "ERR_INVALID_ARGUMENT"],
      ["a/.hidden", "ERR_INVALID_ARGUMENT"],
      ["=leaf", "ERR_INVALID_ARGUMENT"],
      ["a b", "ERR_INVALID_ARGUMENT"],
      ["ünïcode", "ERR_INVALID_ARGUMENT"],
      [Array.from({ length: 33 }, () => "s").join("/"), "ERR_INVALID_ARGUMENT"],
      [42, "ERR_INVALID_ARGUMENT"],
      [undefined, "ERR_INVALID_ARGUMENT"],
    ];
    for (const [key, code] of cases) {
      expect(() => store.assertValidKey(key), String(key)).toThrow(expect.objectContaining({ code }));
    }
  });

  it("either accepts a string or throws a CustodyError, and accepted keys never climb out", () => {
    // Random binary strings are nearly always refused; keys built from path-like segments ('..', '.',
    // empty, '=x', names) reach the accepting branch too. Both branches are counted and must be taken.
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "", "=meta", ".hidden", "a", "case-1", "x.y"),
      fc.stringMatching(/^[A-Za-z0-9._=-]{1,12}$/),
    );
    const pathLike = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join("/"));
    const taken = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), pathLike), (key) => {
        try {
          store.assertValidKey(key);
        } catch (error) {
          taken.refused += 1;
          return isCustodyError(error, "ERR_UNSAFE_PATH") || isCustodyError(error, "ERR_INVALID_ARGUMENT");
        }
        taken.accepted += 1;
        return key.split("/").every((s) => s.length > 0 && !s.startsWith(".") && !s.startsWith("="));
      }),
      { numRuns: 2000 },
    );
    expect(taken.accepted).toBeGreaterThan(50);
    expect(taken.refused).toBeGreaterThan(200);
  });
});
