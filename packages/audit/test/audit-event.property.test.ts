import { canonicalJson } from "@custody/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkEvent, plainEvent } from "../src/event.js";
import { auditEventSchema, flatJson } from "../src/record.js";
import { MAX_DETAILS_BYTES, MAX_NAME, MAX_REASON } from "../src/shape.js";

const name = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.constantFrom("", "a\uD800b", "\uDC00", "x".repeat(MAX_NAME), "x".repeat(MAX_NAME + 1)),
);
const reason = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom("", "x".repeat(MAX_REASON), "x".repeat(MAX_REASON + 1)),
);
class Details {
  a = 1;
}
const details = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
  fc.constantFrom(
    undefined,
    null,
    [],
    "text",
    1,
    { n: Number.NaN },
    { s: "\uD800" },
    new Details(),
    Object.create(null),
    { big: "x".repeat(MAX_DETAILS_BYTES) },
  ),
);
const valid = { actor: "alice", action: "item.read", target: "item-1", outcome: "allow", reason: "ok" };
const event = fc.record(
  {
    actor: fc.oneof(name, fc.constantFrom(undefined, 1, null)),
    action: name,
    target: name,
    outcome: fc.constantFrom("allow", "deny", "error", "perhaps", undefined, 0),
    reason: fc.oneof(reason, fc.constant(undefined)),
    details,
    extra: fc.constantFrom(1, "x"),
  },
  { requiredKeys: ["action", "target"] },
);
const odd = fc.constantFrom<unknown>(
  null,
  undefined,
  "event",
  [valid],
  Object.assign(Object.create(null), valid),
  Object.assign(Object.create({ inherited: 1 }), valid),
  Object.assign(Object.create({ actor: "mallory" }), { ...valid, actor: undefined }),
  new (class Event {
    actor = "alice";
    action = "item.read";
    target = "item-1";
    outcome = "allow";
    reason = "ok";
  })(),
);

describe("audit event check (property)", () => {
  it("the append path's hand-written event check agrees with auditEventSchema", () => {
    fc.assert(
      fc.property(fc.oneof(event, odd), (candidate) => {
        const expected = auditEventSchema.safeParse(candidate);
        const fast = plainEvent(candidate);
        // The hand-written check may send an event to zod, never accept one zod refuses.
        if (fast !== undefined) expect(expected.success).toBe(true);
        if (expected.success) {
          expect(checkEvent(candidate).event).toEqual(expected.data);
          expect(checkEvent(candidate).detailsText).toBe(canonicalJson(expected.data.details ?? {}));
        } else {
          expect(() => checkEvent(candidate)).toThrow(
            expect.objectContaining({ code: "ERR_AUDIT_RECORD_INVALID" }),
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("takes plain events without zod, with and without details", () => {
    expect(plainEvent(valid)).toEqual({ event: valid, detailsText: "{}" });
    expect(plainEvent({ ...valid, details: { sha256: "ab", bytes: 1 } })).toEqual({
      event: { ...valid, details: { sha256: "ab", bytes: 1 } },
      detailsText: '{"bytes":1,"sha256":"ab"}',
    });
    expect(plainEvent({ ...valid, details: undefined })).toEqual({ event: valid, detailsText: "{}" });
  });
});

describe("flat details text (property)", () => {
  it("is canonicalJson's text for every object it takes, and takes flat JSON objects", () => {
    const primitive = fc.oneof(
      fc.string({ unit: "binary", maxLength: 12 }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constantFrom(null, undefined, -0, Number.NaN, "\uD800", 1e21, 5e-324),
    );
    const key = fc.oneof(
      fc.string({ unit: "binary", maxLength: 6 }),
      fc.constantFrom("\uDC00", "__proto__", "é", "\u20ac"),
    );
    const value = fc.oneof(primitive, fc.jsonValue({ maxDepth: 1 }), fc.constantFrom([], new Date(0)));
    fc.assert(
      fc.property(fc.dictionary(key, value), fc.boolean(), fc.boolean(), (object, nullProto, hidden) => {
        const candidate = Object.assign(nullProto ? Object.create(null) : {}, object);
        // A toJSON that Object.keys does not list still decides canonicalize's output.
        if (hidden) Object.defineProperty(candidate, "toJSON", { value: () => ({ replaced: true }) });
        const flat = flatJson(candidate);
        let canonical: string | undefined;
        try {
          canonical = canonicalJson(candidate);
        } catch {
          canonical = undefined;
        }
        if (flat !== undefined) expect(flat).toBe(canonical);
        const isFlat = Object.values(candidate).every(
          (v) => v === null || ["string", "number", "boolean"].includes(typeof v),
        );
        if (isFlat && !hidden && canonical !== undefined) expect(flat).toBe(canonical);
      }),
      { numRuns: 3000 },
    );
  });
});
