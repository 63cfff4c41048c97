import { isAscii } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { byteRecord, scanRecordBytes } from "../src/line-bytes.js";
import { type AuditRecord, makeRecord, parseRecordLine, type RecordBody } from "../src/record.js";
import { toSealKey } from "../src/seal.js";

// The verifier's workers accept most lines on their bytes alone (scanRecordBytes) and send the rest
// to parseRecordLine. The bytes may only accept what parseRecordLine accepts, with the same fields:
// every line here, valid or edited and then re-hashed (so that only the record's shape can refuse it),
// is put to both.

const ascii = (min: number, max: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
    minLength: min,
    maxLength: max,
  });
const plain = (min: number, max: number) =>
  fc.string({
    unit: fc.constantFrom(..."abc-_:./ @#,{}[]~\x7f09AZ".split("")),
    minLength: min,
    maxLength: max,
  });
const flatValue = fc.oneof(
  plain(0, 10),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const body = (text: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>): fc.Arbitrary<RecordBody> =>
  fc.record({
    seq: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(0)),
    time: fc
      .date({ min: new Date(0), max: new Date("2999-12-31"), noInvalidDate: true })
      .map((d) => d.toISOString()),
    actor: text.filter((s) => s.length > 0),
    action: text.filter((s) => s.length > 0),
    target: text.filter((s) => s.length > 0),
    outcome: fc.constantFrom("allow" as const, "deny" as const, "error" as const),
    reason: text,
    details: fc.dictionary(text, value, { maxKeys: 4 }) as fc.Arbitrary<RecordBody["details"]>,
    prev: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex")),
  });
const sealKey = toSealKey(randomBytes(32));

/** Recomputes the line's hash as a forger would, so only the shape checks stand between it and acceptance. */
function rehash(line: string): string {
  const at = line.lastIndexOf(',"hash":"');
  if (at < 0 || line.length < at + 74) return line;
  const seal = line.indexOf(',"seal":"', at + 74);
  const hashed =
    seal < 0
      ? line.slice(0, at) + line.slice(at + 74)
      : line.slice(0, at) + line.slice(at + 74, seal) + line.slice(seal + 74);
  return `${line.slice(0, at + 9)}${createHash("sha256").update(hashed, "latin1").digest("hex")}${line.slice(at + 73)}`;
}

/** What the byte check says, as the fields it found: undefined when it leaves the line to parseRecordLine. */
function byBytes(line: string): Pick<AuditRecord, "seq" | "hash" | "prev" | "seal"> | undefined {
  const bytes = Buffer.from(line, "latin1");
  const out = byteRecord();
  if (!scanRecordBytes(bytes, 0, bytes.length, out)) return undefined;
  const hex = (at: number) => bytes.toString("latin1", at, at + 64);
  expect(out.digest.subarray(1).toString("hex")).toBe(hex(out.hashAt));
  return {
    seq: out.seq,
    hash: hex(out.hashAt),
    prev: hex(out.prevAt),
    ...(out.sealAt < 0 ? {} : { seal: hex(out.sealAt) }),
  };
}

function agree(line: string): void {
  const fast = byBytes(line);
  if (fast === undefined) return;
  const slow = parseRecordLine(line);
  expect(slow).not.toHaveProperty("problem");
  const record = slow as AuditRecord;
  expect(fast).toEqual({
    seq: record.seq,
    hash: record.hash,
    prev: record.prev,
    ...(record.seal === undefined ? {} : { seal: record.seal }),
  });
}

const edits = fc.constantFrom(
  '"',
  "\\",
  "\\n",
  "\u0000",
  "\u001f",
  " ",
  "0",
  "00",
  "-",
  "-0",
  "1e5",
  ".5",
  "1.",
  "{",
  "}",
  "[]",
  ",",
  ":",
  "x",
  "\u007f",
  "true",
  "nul",
  '"seal":"',
  "2",
  "9",
  "Z",
  "T",
  "{}",
);

describe("the verifier's byte-level line check (property)", () => {
  it("accepts the lines the writer stores (ASCII, no escapes, flat details), with their fields", () => {
    fc.assert(
      fc.property(body(plain(0, 20), flatValue), fc.boolean(), (record, sealed) => {
        const { line, record: stored } = makeRecord(record, sealed ? sealKey : undefined);
        const fast = byBytes(line);
        expect(fast).toEqual({
          seq: stored.seq,
          hash: stored.hash,
          prev: stored.prev,
          ...(sealed ? { seal: stored.seal } : {}),
        });
      }),
      { numRuns: 500 },
    );
  });

  it("never accepts a line parseRecordLine refuses, nor reads other fields: any ASCII record, edited and re-hashed", () => {
    const anyValue = fc.oneof(flatValue, ascii(0, 6), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(
        body(fc.oneof(plain(0, 12), ascii(0, 12)), anyValue),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), edits), { maxLength: 3 }),
        (record, sealed, changes) => {
          let line = makeRecord(record, sealed ? sealKey : undefined).line;
          if (!isAscii(Buffer.from(line))) return;
          agree(line);
          for (const [at, cut, insert] of changes) {
            const where = at % (line.length + 1);
            const edited = line.slice(0, where) + insert + line.slice(where + cut);
            // As edited (the record's hash no longer matches unless the edit was in the hash field), then re-hashed.
            agree(edited);
            line = rehash(edited);
            agree(line);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("leaves to parseRecordLine the fields whose rules it does not check itself", () => {
    const { line } = makeRecord({
      seq: 7,
      time: "2026-12-07T04:00:00.000Z",
      actor: "a",
      action: "b",
      target: "c",
      outcome: "allow",
      reason: "",
      details: { n: 1 },
      prev: "0".repeat(64),
    });
    const variants = [
      line.replace('"time":"2026-12-07', '"time":"2026-02-30'),
      line.replace('"time":"2026-12-07T04', '"time":"2026-12-07T24'),
      line.replace('"seq":7', '"seq":07'),
      line.replace('"seq":7', '"seq":-7'),
      line.replace('"seq":7', `"seq":${2 ** 53}`),
      line.replace('"actor":"a"', '"actor":""'),
      line.replace('"actor":"a"', `"actor":"${"a".repeat(1025)}"`),
      line.replace('"reason":""', `"reason":"${"r".repeat(8193)}"`),
      line.replace('"outcome":"allow"', '"outcome":"allowed"'),
      line.replace('"details":{"n":1}', '"details":[]'),
      line.replace('"details":{"n":1}', '"details":{"n":01}'),
      line.replace('"details":{"n":1}', '"details":{"n":1,}'),
    ].map(rehash);
    for (const variant of variants) {
      expect(variant).not.toBe(rehash(line));
      expect(parseRecordLine(variant), variant).toHaveProperty("problem");
      expect(byBytes(variant), variant).toBeUndefined();
    }
    expect(byBytes(rehash(line))).toBeDefined();
    // parseRecordLine accepts these (JSON.parse reads 7.0 as 7; prev is only compared with the last hash):
    // the bytes leave them to it, so the verdict is the same.
    for (const odd of [line.replace('"seq":7', '"seq":7.0'), line.replace('"prev":"0', '"prev":"A')].map(
      rehash,
    )) {
      expect(parseRecordLine(odd)).not.toHaveProperty("problem");
      expect(byBytes(odd)).toBeUndefined();
    }
  });
});
