import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { csvCell, csvLine, csvStream, parseCsv, recordsToCsv, toCsv } from "../src/csv.js";

describe("CSV writer (RFC 4180)", () => {
  test("quotes fields with commas, quotes and line breaks, and ends records with CRLF", () => {
    expect(csvLine(["a", "b,c", 'say "hi"', "two\nlines", ""])).toBe(
      'a,"b,c","say ""hi""","two\nlines",\r\n',
    );
  });

  test("defuses formula injection for spreadsheets with a leading quote", () => {
    expect(csvCell("=cmd|' /C calc'!A0")).toBe("'=cmd|' /C calc'!A0");
    expect(csvCell("+SUM(A1)")).toBe("'+SUM(A1)");
    expect(csvCell("-2+3")).toBe("'-2+3");
    expect(csvCell("@foo")).toBe("'@foo");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
  });

  test("keeps numbers the collector produced as numbers, and renders empties and dates", () => {
    expect(csvCell(-5)).toBe("-5");
    expect(csvCell(null)).toBe("");
    expect(csvCell(undefined)).toBe("");
    expect(csvCell(new Date("2026-01-02T03:04:05Z"))).toBe("2026-01-02T03:04:05.000Z");
    expect(csvCell(true)).toBe("true");
  });

  test("round-trips any text that does not start like a formula", () => {
    const safe = fc.string().filter((s) => !/^[=+\-@\t\r]/.test(s));
    fc.assert(
      fc.property(
        fc.array(fc.array(safe, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 }),
        (rows) => {
          const text = rows.map((r) => csvLine(r)).join("");
          const parsed = parseCsv(text);
          // A record holding a single empty field is indistinguishable from a blank line.
          expect(parsed).toEqual(rows.filter((r) => !(r.length === 1 && r[0] === "")));
        },
      ),
    );
  });

  test("toCsv, recordsToCsv and csvStream agree", async () => {
    const rows = [
      { a: 1, b: "x" },
      { a: 2, b: "y,z" },
    ];
    const expected = 'a,b\r\n1,x\r\n2,"y,z"\r\n';
    expect(toCsv(["a", "b"], rows)).toBe(expected);
    expect(recordsToCsv(rows)).toBe(expected);
    let streamed = "";
    for await (const chunk of csvStream(["a", "b"], rows)) streamed += String(chunk);
    expect(streamed).toBe(expected);
  });
});
