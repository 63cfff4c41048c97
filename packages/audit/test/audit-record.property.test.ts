import { createHash, createHmac } from "node:crypto";
import { canonicalJson } from "@custody/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { auditRecordSchema, makeRecord, parseRecordLine, type RecordBody } from "../src/record.js";
import { recordSeal, toSealKey } from "../src/seal.js";
import { recordShapeProblem } from "../src/shape.js";

const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 });
const unsealed: fc.Arbitrary<RecordBody> = fc.record({
  seq: fc.nat(),
  time: fc
    .date({ min: new Date(0), max: new Date("2999-01-01"), noInvalidDate: true })
    .map((d) => d.toISOString()),
  actor: text,
  action: text,
  target: text,
  outcome: fc.constantFrom("allow" as const, "deny" as const, "error" as const),
  reason: fc.string({ unit: "binary", maxLength: 40 }).filter((s) => s.isWellFormed()),
  details: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })) as fc.Arbitrary<
    RecordBody["details"]
  >,
  prev: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex")),
});

describe("record serialization (property)", () => {
  it("stores exactly RFC 8785 canonical JSON and hashes canonical(record without hash)", () => {
    fc.assert(
      fc.property(unsealed, (record) => {
        const sealed = makeRecord(record);
        const hash = createHash("sha256").update(canonicalJson(record)).digest("hex");
        expect(sealed.record.hash).toBe(hash);
        expect(sealed.line).toBe(canonicalJson({ ...record, hash }));
      }),
      { numRuns: 300 },
    );
  });

  it("seals with HMAC-SHA256 of the hash bytes, outside the hash, in canonical key order", () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 100 });
    fc.assert(
      fc.property(unsealed, key, (record, bytes) => {
        const sealKey = toSealKey(bytes);
        const { line, record: sealed } = makeRecord(record, sealKey);
        expect(sealed.hash).toBe(makeRecord(record).record.hash);
        const mac = createHmac("sha256", bytes).update(sealed.hash, "hex").digest("hex");
        expect(sealed.seal).toBe(mac);
        expect(recordSeal(sealKey, sealed.hash)).toBe(mac);
        expect(line).toBe(canonicalJson({ ...record, hash: sealed.hash, seal: mac }));
        expect(parseRecordLine(line)).toEqual(sealed);
        // The seal moved before the hash, or its digits changed, is not the canonical line.
        const moved = line.replace(`,"seal":"${mac}"`, "").replace('{"action"', `{"seal":"${mac}","action"`);
        expect(parseRecordLine(moved)).toHaveProperty("problem");
      }),
      { numRuns: 200 },
    );
  });

  it("reads back what it wrote, and nothing it did not", () => {
    fc.assert(
      fc.property(unsealed, fc.nat(), (record, at) => {
        const { line, record: sealed } = makeRecord(record);
        expect(parseRecordLine(line)).toEqual(JSON.parse(line));
        expect(sealed).toEqual(JSON.parse(line));
        const spaced = `${line.slice(0, 1)} ${line.slice(1)}`;
        // Any byte changed outside the hash field breaks the hash, whitespace included.
        expect(parseRecordLine(spaced)).toMatchObject({ problem: { kind: "modified" } });
        const cut = line.slice(0, at % line.length);
        expect(parseRecordLine(cut)).toHaveProperty("problem");
      }),
      { numRuns: 200 },
    );
  });

  it("the hand-written check on the verification path agrees with auditRecordSchema", () => {
    const field = fc.constantFrom(
      "seq",
      "time",
      "actor",
      "action",
      "target",
      "outcome",
      "reason",
      "details",
      "prev",
      "hash",
      "seal",
      "extra",
    );
    const junk = fc.oneof(
      fc.jsonValue({ maxDepth: 1 }),
      fc.constant("\ud800"),
      fc.constant("2020-02-30T00:00:00.000Z"),
    );
    fc.assert(
      fc.property(unsealed, field, junk, fc.boolean(), (record, key, value, drop) => {
        const candidate: Record<string, unknown> = { ...makeRecord(record).record };
        if (drop) delete candidate[key];
        else candidate[key] = value;
        expect(recordShapeProblem(candidate) === undefined).toBe(
          auditRecordSchema.safeParse(candidate).success,
        );
      }),
      { numRuns: 500 },
    );
  });

  it("refuses hostile lines without throwing", () => {
    for (const line of ["", "null", "[]", "{}", '{"seq":-1}', "\u0000", "1e400", '{"__proto__":{}}']) {
      expect(parseRecordLine(line)).toMatchObject({ problem: { kind: "malformed" } });
    }
  });
});
