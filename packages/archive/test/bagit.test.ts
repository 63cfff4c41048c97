import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkBagitTxt,
  decodeManifestPath,
  encodeManifestPath,
  formatBagInfo,
  formatManifest,
  parseBagInfo,
  parseManifest,
} from "../src/bagit.js";

const sha = fc.stringMatching(/^[0-9a-f]{64}$/);
const path = fc
  .string({ minLength: 1, maxLength: 40 })
  .filter((p) => p.trim() === p && p.length > 0 && !p.startsWith("*")); // sha256sum reads a leading '*' as its binary flag

describe("BagIt tag files", () => {
  it("manifest paths survive percent-encoding, whatever they hold", () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const encoded = encodeManifestPath(value);
        expect(encoded).not.toMatch(/[\r\n]/);
        expect(decodeManifestPath(encoded)).toBe(value);
      }),
    );
  });

  it("a formatted manifest parses back to the same entries", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ path, sha256: sha }), { selector: (l) => l.path, maxLength: 20 }),
        (lines) => {
          const parsed = parseManifest(formatManifest(lines), "manifest-sha256.txt");
          expect(parsed).toEqual(new Map(lines.map((l) => [l.path, l.sha256])));
        },
      ),
    );
  });

  it("refuses a path listed twice and malformed lines", () => {
    const digest = "a".repeat(64);
    const twice = `${digest}  data/x\n${digest}  data/x\n`;
    expect(() => parseManifest(twice, "m")).toThrow(expect.objectContaining({ code: "ERR_BAGIT_INVALID" }));
    for (const bad of ["nonsense\n", `${digest.slice(1)}  data/x\n`, `${digest}\n`]) {
      expect(() => parseManifest(bad, "m")).toThrow(expect.objectContaining({ code: "ERR_BAGIT_INVALID" }));
    }
  });

  it("bag-info values cannot forge another field with a line break", () => {
    const text = formatBagInfo([["Source-Organization", "Lab\nPayload-Oxum: 1.1"]]);
    expect(parseBagInfo(text)).toEqual([["Source-Organization", "Lab Payload-Oxum: 1.1"]]);
  });

  it("accepts BagIt 1.0 in UTF-8 and refuses other declarations", () => {
    expect(() => checkBagitTxt("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")).not.toThrow();
    expect(() => checkBagitTxt("BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n")).toThrow(
      expect.objectContaining({ code: "ERR_BAGIT_INVALID" }),
    );
    expect(() => checkBagitTxt("BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n")).toThrow(
      expect.objectContaining({ code: "ERR_BAGIT_INVALID" }),
    );
  });
});
