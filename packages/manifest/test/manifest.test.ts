import { createHash } from "node:crypto";
import { CustodyError, canonicalJson, type ErrorCode, fixedClock } from "@custody/core";
import { merkleLeafHash, merkleRoot } from "@custody/hash";
import {
  type CustodyManifest,
  computeMerkleRoot,
  MANIFEST_VERSION,
  ManifestBuilder,
  parseManifest,
  serializeManifest,
} from "@custody/manifest";
import { describe, expect, it } from "vitest";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

function builder(): ManifestBuilder {
  return new ManifestBuilder({
    name: "case-42-ws01",
    device: { id: "dev-1", hostname: "ws01", os: "Windows" },
    collector: { operator: "alice", tool: "custody", toolVersion: "0.1.0", host: "ir-laptop" },
    case: { id: "CASE-42" },
    clock: fixedClock("2026-01-02T03:04:05.678Z"),
  });
}

function sample(): CustodyManifest {
  const b = builder();
  b.addItem({
    path: "data/Processes/processes.csv",
    size: 5,
    sha256: sha("procs"),
    dataPoint: "Processes",
    source: "tasklist /v",
  });
  b.addItem({ path: "data/Autoruns/Run.txt", size: 3, sha256: sha("run"), md5: "0".repeat(32) });
  b.addItem({
    path: "CollectionSummary.csv",
    size: 0,
    sha256: sha(""),
    collectedAt: new Date("2026-01-02T03:00:00Z"),
  });
  return b.build();
}

function codeOf(action: () => unknown): ErrorCode | "no error" {
  try {
    action();
    return "no error";
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
}

/** Re-serializes an edited manifest canonically, so only the edit itself is under test. */
function edited(
  edit: (m: Record<string, unknown> & { items: Record<string, unknown>[] }) => void,
  fixRoot = true,
): Buffer {
  const manifest = structuredClone(sample()) as unknown as Record<string, unknown> & {
    items: Record<string, unknown>[];
  };
  edit(manifest);
  if (fixRoot) manifest.merkleRoot = computeMerkleRoot(manifest.items as { sha256: string }[]);
  return Buffer.from(canonicalJson(manifest));
}

describe("ManifestBuilder", () => {
  it("sorts items by path, stamps times and computes the Merkle root as the contract says", () => {
    const manifest = sample();
    expect(manifest.version).toBe(MANIFEST_VERSION);
    expect(manifest.createdAt).toBe("2026-01-02T03:04:05.678Z");
    expect(manifest.items.map((i) => i.path)).toEqual([
      "CollectionSummary.csv",
      "data/Autoruns/Run.txt",
      "data/Processes/processes.csv",
    ]);
    expect(manifest.items[0]?.collectedAt).toBe("2026-01-02T03:00:00.000Z");
    const expected = merkleRoot(manifest.items.map((i) => merkleLeafHash(Buffer.from(i.sha256, "hex"))));
    expect(manifest.merkleRoot).toBe(expected.toString("hex"));
  });

  it("serializes to canonical JSON that parses back to the same manifest", () => {
    const bytes = serializeManifest(sample());
    expect(bytes.toString()).toBe(canonicalJson(sample()));
    expect(parseManifest(bytes)).toEqual(sample());
  });

  it("an empty manifest has the empty-tree root", () => {
    const manifest = builder().build();
    expect(manifest.merkleRoot).toBe(sha(""));
    expect(parseManifest(serializeManifest(manifest)).items).toEqual([]);
  });

  it("refuses a bad item at once and keeps the good ones", () => {
    const b = builder();
    b.addItem({ path: "data/a.txt", size: 1, sha256: sha("a") });
    expect(codeOf(() => b.addItem({ path: "data/A.TXT", size: 1, sha256: sha("a") }))).toBe(
      "ERR_DUPLICATE_PATH",
    );
    expect(codeOf(() => b.addItem({ path: "../etc/passwd", size: 1, sha256: sha("a") }))).toBe(
      "ERR_UNSAFE_PATH",
    );
    expect(codeOf(() => b.addItem({ path: "data/b", size: -1, sha256: sha("a") }))).toBe(
      "ERR_MANIFEST_INVALID",
    );
    expect(codeOf(() => b.addItem({ path: "data/b", size: 1, sha256: "ABC" }))).toBe("ERR_MANIFEST_INVALID");
    // a refused item leaves no trace: the same path is accepted once it is valid
    b.addItem({ path: "data/b", size: 1, sha256: sha("b") });
    expect(b.count).toBe(2);
  });
});

describe("parseManifest refuses hostile input with distinct codes", () => {
  const cases: [string, () => Buffer, ErrorCode][] = [
    [
      "an unknown version",
      () =>
        edited((m) => {
          m.version = "custody.manifest/v2";
        }),
      "ERR_UNSUPPORTED_VERSION",
    ],
    [
      "a missing version",
      () =>
        edited((m) => {
          delete m.version;
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "an exact duplicate path",
      () =>
        edited((m) => {
          m.items.splice(1, 0, { ...m.items[1] });
        }),
      "ERR_DUPLICATE_PATH",
    ],
    [
      "paths equal after case folding",
      () =>
        edited((m) => {
          m.items.splice(0, 0, { ...m.items[1], path: "DATA/autoruns/run.txt" });
        }),
      "ERR_DUPLICATE_PATH",
    ],
    [
      "paths equal after NFC",
      () =>
        edited((m) => {
          m.items.push({ ...m.items[2], path: "data/cafe\u0301" }, { ...m.items[2], path: "data/caf\u00e9" });
        }),
      "ERR_DUPLICATE_PATH",
    ],
    [
      "a file that is also a directory",
      () =>
        edited((m) => {
          m.items.splice(1, 0, { ...m.items[1], path: "data/Autoruns" });
        }),
      "ERR_DUPLICATE_PATH",
    ],
    [
      "an absolute path",
      () =>
        edited((m) => {
          m.items.unshift({ ...m.items[0], path: "/etc/passwd" });
        }),
      "ERR_UNSAFE_PATH",
    ],
    [
      "a '..' segment",
      () =>
        edited((m) => {
          m.items.push({ ...m.items[0], path: "data/../../x" });
        }),
      "ERR_UNSAFE_PATH",
    ],
    [
      "a backslash",
      () =>
        edited((m) => {
          m.items.push({ ...m.items[0], path: "data\\x" });
        }),
      "ERR_UNSAFE_PATH",
    ],
    [
      "a NUL character",
      () =>
        edited((m) => {
          m.items.push({ ...m.items[0], path: "data/x\u0000.txt" });
        }),
      "ERR_UNSAFE_PATH",
    ],
    [
      "a control character",
      () =>
        edited((m) => {
          m.items.push({ ...m.items[0], path: "data/x\u001b[2J" });
        }),
      "ERR_UNSAFE_PATH",
    ],
    [
      "a drive letter",
      () =>
        edited((m) => {
          m.items.push({ ...m.items[0], path: "C:/x" });
        }),
      "ERR_UNSAFE_PATH",
    ],
    [
      "a path that is not a string",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).path = 7;
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a negative size",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).size = -1;
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a fractional size",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).size = 1.5;
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a size as a string",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).size = "5";
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a size beyond 2^53",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).size = 2 ** 60;
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "an upper-case digest",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).sha256 = sha("x").toUpperCase();
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a short digest",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).sha256 = "ab";
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "an md5 of the wrong length",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).md5 = "0".repeat(31);
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "an unknown field",
      () =>
        edited((m) => {
          m.extra = true;
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a bad timestamp",
      () =>
        edited((m) => {
          m.createdAt = "yesterday";
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "unsorted items",
      () =>
        edited((m) => {
          m.items.reverse();
        }),
      "ERR_MANIFEST_INVALID",
    ],
    [
      "a Merkle root that does not match",
      () =>
        edited((m) => {
          m.merkleRoot = sha("other");
        }, false),
      "ERR_MERKLE_ROOT_MISMATCH",
    ],
    [
      "a changed digest under the old root",
      () =>
        edited((m) => {
          (m.items[0] as Record<string, unknown>).sha256 = sha("x");
        }, false),
      "ERR_MERKLE_ROOT_MISMATCH",
    ],
    ["non-canonical whitespace", () => Buffer.from(JSON.stringify(sample(), null, 2)), "ERR_CANONICAL_JSON"],
    [
      "a duplicate JSON key",
      () =>
        Buffer.from(serializeManifest(sample()).toString().replace('{"case"', '{"case":{"id":"X"},"case"')),
      "ERR_CANONICAL_JSON",
    ],
    ["bytes that are not JSON", () => Buffer.from("{not json"), "ERR_MANIFEST_INVALID"],
    ["invalid UTF-8", () => Buffer.from([0x7b, 0xff, 0x7d]), "ERR_MANIFEST_INVALID"],
    ["a JSON array", () => Buffer.from("[]"), "ERR_MANIFEST_INVALID"],
  ];

  for (const [what, bytes, code] of cases) {
    it(`${what} → ${code}`, () => {
      expect(codeOf(() => parseManifest(bytes()))).toBe(code);
    });
  }

  it("input over maxBytes → ERR_SIZE_LIMIT before parsing", () => {
    expect(codeOf(() => parseManifest(serializeManifest(sample()), { maxBytes: 10 }))).toBe("ERR_SIZE_LIMIT");
  });

  it("non-canonical bytes pass when requireCanonical is false", () => {
    const pretty = Buffer.from(JSON.stringify(sample(), null, 2));
    expect(parseManifest(pretty, { requireCanonical: false }).name).toBe("case-42-ws01");
  });
});
