import * as core from "@custody/core";
import { describe, expect, it } from "vitest";

describe("@custody/core public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(core).sort()).toEqual(
      [
        "CustodyError",
        "ERROR_CODES",
        "SUMMARY_COLUMNS",
        "assertSafeRelativePath",
        "byteSizeSchema",
        "canonicalJson",
        "canonicalJsonBytes",
        "digestSetSchema",
        "findPathCollision",
        "formatCollectionSummary",
        "fixedClock",
        "isCustodyError",
        "isoTimestampSchema",
        "mapInOrder",
        "md5HexSchema",
        "pathCollisionKey",
        "safeRelativePathSchema",
        "sequentialIds",
        "sha1HexSchema",
        "sha256HexSchema",
        "sha512HexSchema",
        "silentLogger",
        "syncDirectory",
        "acquireFileLock",
        "withFileLock",
        "makeDirectoryDurable",
        "noteTransientBytes",
        "systemClock",
        "throwIfAborted",
        "toCustodyError",
        "unsafePathReason",
        "uuidv7Generator",
        "writeFileAtomic",
      ].sort(),
    );
  });

  it("works the way a user calls it", () => {
    const error = new core.CustodyError("ERR_NOT_FOUND", "x");
    expect(core.isCustodyError(error, "ERR_NOT_FOUND")).toBe(true);
    expect(core.canonicalJson({ b: 1, a: [true, null] })).toBe('{"a":[true,null],"b":1}');
    expect(core.fixedClock("2026-01-01T00:00:00.000Z").now().toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(core.sequentialIds("t").next()).toBe("t-1");
  });
});
