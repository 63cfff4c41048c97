import { canonicalJson, canonicalJsonBytes, isCustodyError } from "@custody/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

// An independent oracle: RFC 8785 is ECMAScript JSON.stringify with object keys sorted by UTF-16
// code units at every level.
function sortedStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedStringify).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedStringify((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return isCustodyError(error) ? error.code : "not a CustodyError";
  }
}

describe("canonicalJson: the examples of RFC 8785", () => {
  it("§3.2.2: numbers, string escapes and literals", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("§3.2.3: property sorting by UTF-16 code units", () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    // Read the order from the text: JavaScript objects would put the integer-like key "1" first.
    const text = canonicalJson(input);
    const values = [...text.matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
    expect(values).toEqual([
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ]);
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it("Appendix B: IEEE 754 numbers serialize as ECMAScript does", () => {
    const table: [string, string][] = [
      ["0000000000000000", "0"],
      ["8000000000000000", "0"],
      ["0000000000000001", "5e-324"],
      ["8000000000000001", "-5e-324"],
      ["7fefffffffffffff", "1.7976931348623157e+308"],
      ["ffefffffffffffff", "-1.7976931348623157e+308"],
      ["4340000000000000", "9007199254740992"],
      ["c340000000000000", "-9007199254740992"],
      ["4430000000000000", "295147905179352830000"],
      ["44b52d02c7e14af5", "9.999999999999997e+22"],
      ["44b52d02c7e14af6", "1e+23"],
      ["44b52d02c7e14af7", "1.0000000000000001e+23"],
      ["444b1ae4d6e2ef4e", "999999999999999700000"],
      ["444b1ae4d6e2ef4f", "999999999999999900000"],
      ["444b1ae4d6e2ef50", "1e+21"],
      ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
      ["3eb0c6f7a0b5ed8d", "0.000001"],
      ["41b3de4355555553", "333333333.3333332"],
      ["41b3de4355555554", "333333333.33333325"],
      ["41b3de4355555555", "333333333.3333333"],
      ["41b3de4355555556", "333333333.3333334"],
      ["41b3de4355555557", "333333333.33333343"],
      ["becbf647612f3696", "-0.0000033333333333333333"],
      ["43143ff3c1cb0959", "1424953923781206.2"],
    ];
    for (const [bits, expected] of table) {
      expect(canonicalJson(Buffer.from(bits, "hex").readDoubleBE(0))).toBe(expected);
    }
    // NaN and Infinity have no JSON form: the RFC says to fail.
    for (const bits of ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"]) {
      expect(codeOf(() => canonicalJson([Buffer.from(bits, "hex").readDoubleBE(0)]))).toBe(
        "ERR_CANONICAL_JSON",
      );
    }
  });

  it("escapes exactly the control characters, quote and backslash, in lower-case hex", () => {
    const all = Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(i)).join("");
    const text = canonicalJson(all);
    expect(text).toBe(JSON.stringify(all));
    expect(text).toContain("\\u001f");
    expect(text).toContain("\\b\\t\\n\\u000b\\f\\r");
    expect(text).not.toContain("\\u007f");
    expect(canonicalJson("\u2028\u2029é😀")).toBe('"\u2028\u2029é😀"');
  });

  it("gives UTF-8 bytes", () => {
    expect(canonicalJsonBytes({ b: "€", a: 1 })).toEqual(Buffer.from('{"a":1,"b":"€"}', "utf8"));
  });
});

describe("canonicalJson refuses what has no canonical form", () => {
  it.each([
    ["undefined", undefined],
    ["a nested undefined", { a: undefined }],
    ["a function", { f: () => 1 }],
    ["a bigint", 10n],
    ["a symbol", Symbol("s")],
    ["a Date", new Date(0)],
    ["a Map", new Map()],
    ["a class instance", new (class Thing {})()],
    ["a lone high surrogate", "\ud800"],
    ["a lone low surrogate in a key", { "\udc00": 1 }],
    ["negative infinity", -Infinity],
    ["NaN deep inside", { a: [{ b: Number.NaN }] }],
  ])("%s", (_name, value) => {
    expect(codeOf(() => canonicalJson(value))).toBe("ERR_CANONICAL_JSON");
  });

  it("a cycle", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(codeOf(() => canonicalJson(cycle))).toBe("ERR_CANONICAL_JSON");
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  it("accepts objects without a prototype", () => {
    const bare = Object.assign(Object.create(null), { b: 2, a: 1 });
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}');
  });
});

describe("canonicalJson properties", () => {
  const json = fc.jsonValue({ maxDepth: 4 });

  it("equals sorted-key ECMAScript serialization", () => {
    fc.assert(
      fc.property(json, (value) => canonicalJson(value) === sortedStringify(value)),
      { numRuns: 300 },
    );
  });

  it("round-trips and is idempotent", () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        // -0 is written "0" (RFC 8785 §3.2.2.3), so compare with what JSON itself round-trips.
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it("does not depend on key insertion order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(dict));
      }),
      { numRuns: 200 },
    );
  });

  it("never emits a lone surrogate or raw control character", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const result = codeOf(() => canonicalJson(s));
        if (!s.isWellFormed()) return result === "ERR_CANONICAL_JSON";
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is for raw control characters
        return result === undefined && !/[\u0000-\u001f]/.test(canonicalJson(s));
      }),
      { numRuns: 300 },
    );
  });
});
