import { CustodyError, unsafePathReason } from "@custody/core";
import { type CustodyManifest, ManifestBuilder, parseManifest, serializeManifest } from "@custody/manifest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const segment = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 12 })
  .filter((s) => unsafePathReason(s) === undefined);
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/"));
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
const item = fc.record({
  path,
  size: fc.nat(),
  sha256: hex(64),
  md5: fc.option(hex(32), { nil: undefined }),
  dataPoint: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
});

function build(items: fc.infer<typeof item>[]): CustodyManifest | undefined {
  const builder = new ManifestBuilder({
    name: "property",
    device: { id: "d" },
    collector: { operator: "o", tool: "t", toolVersion: "1", host: "h" },
    createdAt: new Date("2026-01-01T00:00:00Z"),
  });
  for (const input of items) {
    const clean = Object.fromEntries(
      Object.entries(input).filter(([, v]) => v !== undefined),
    ) as typeof input;
    try {
      builder.addItem({ ...clean, collectedAt: "2026-01-01T00:00:00.000Z" });
    } catch (error) {
      // look-alike paths are refused by design; every refusal must be coded
      if (!(error instanceof CustodyError)) throw error;
    }
  }
  return builder.build();
}

describe("manifest round trip and robustness", () => {
  it("whatever the builder accepts serializes and parses back unchanged", () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 25 }), (items) => {
        const manifest = build(items);
        expect(parseManifest(serializeManifest(manifest as CustodyManifest))).toEqual(manifest);
      }),
      { numRuns: 200 },
    );
  });

  it("any single changed, inserted or deleted byte is refused with a code or parses to a different manifest", () => {
    const manifest = build([
      { path: "data/a.txt", size: 1, sha256: "a".repeat(64), md5: undefined, dataPoint: "A" },
      { path: "data/b.txt", size: 2, sha256: "b".repeat(64), md5: "c".repeat(32), dataPoint: undefined },
    ]) as CustodyManifest;
    const bytes = serializeManifest(manifest);
    fc.assert(
      fc.property(
        fc.nat({ max: bytes.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom("change", "insert", "delete"),
        (at, byte, kind) => {
          const edited =
            kind === "change"
              ? Buffer.concat([
                  bytes.subarray(0, at),
                  Buffer.from([byte === bytes[at] ? byte ^ 1 : byte]),
                  bytes.subarray(at + 1),
                ])
              : kind === "insert"
                ? Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at)])
                : Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          try {
            expect(parseManifest(edited)).not.toEqual(manifest);
          } catch (error) {
            if (!(error instanceof CustodyError)) throw error;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
