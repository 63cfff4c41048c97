import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// docs/forensic-soundness.md maps each principle to the test that shows it: this keeps the map honest.
const root = join(import.meta.dirname, "..");
const doc = readFileSync(join(root, "docs", "forensic-soundness.md"), "utf8");

interface Row {
  principle: string;
  status: string;
  feature: string;
  evidence: string;
}

function rows(): Row[] {
  return doc
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| ---"))
    .map((line) =>
      line
        .replace(/^\|\s*/, "")
        .replace(/\s*\|$/, "")
        .split(/\s+\|\s+/),
    )
    .filter((cells) => !["principle", "step"].includes(cells[0] ?? ""))
    .map(([principle = "", status = "", feature = "", evidence = ""]) => ({
      principle,
      status,
      feature,
      evidence,
    }));
}

/** `FILE` › "NAME" pairs of one evidence cell. */
function references(evidence: string): { file: string; name: string }[] {
  return [...evidence.matchAll(/`([^`]+)` › "([^"]+)"/g)].map((match) => ({
    file: match[1] ?? "",
    name: match[2] ?? "",
  }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A test (or test-suite case) of that exact name: `it("NAME"`, `test("NAME"`, `it.runIf(...)("NAME"`. */
function declaresTest(source: string, name: string): boolean {
  const call = String.raw`(?:\bit|\btest)(?:\.\w+(?:\([^()]*(?:\([^()]*\))?[^()]*\))?)*\(\s*`;
  // a commented-out test is no test
  const code = source
    .split("\n")
    .filter((line) => !line.trim().startsWith("//"))
    .join("\n");
  return new RegExp(`${call}(["'\`])${escapeRegExp(name)}\\1`).test(code);
}

describe("docs/forensic-soundness.md", () => {
  it("covers RFC 3227, NIST SP 800-86 and ISO/IEC 27037 with the principles the issue names", () => {
    for (const heading of ["## RFC 3227", "## NIST SP 800-86", "## ISO/IEC 27037"])
      expect(doc).toContain(heading);
    const principles = rows().map((row) => row.principle.toLowerCase());
    for (const needed of [
      "order of volatility",
      "system clock and utc",
      "each step",
      "checksums and signatures",
      "chain of custody",
      "collection",
      "examination",
      "reporting",
      "integrity",
      "auditability",
      "repeatability",
      "reproducibility",
    ]) {
      expect(
        principles.some((p) => p.includes(needed)),
        needed,
      ).toBe(true);
    }
  });

  it("gives every row a status, and a reason when a principle is not met", () => {
    const all = rows();
    expect(all.length).toBeGreaterThan(15);
    for (const row of all) {
      expect(["met", "partly", "not met"], row.principle).toContain(row.status);
      if (row.status === "not met") expect(row.feature.length, row.principle).toBeGreaterThan(40);
      else expect(references(row.evidence).length, row.principle).toBeGreaterThan(0);
    }
  });

  it("names only tests that exist, in the files named", () => {
    const missing: string[] = [];
    for (const row of rows()) {
      for (const { file, name } of references(row.evidence)) {
        const path = join(root, file);
        if (!existsSync(path) || !declaresTest(readFileSync(path, "utf8"), name))
          missing.push(`${file} › ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("would notice a renamed test (the check itself can fail)", () => {
    expect(declaresTest('it("keeps the evidence", () => {})', "keeps the evidence")).toBe(true);
    expect(declaresTest('it("keeps the evidences", () => {})', "keeps the evidence")).toBe(false);
    expect(declaresTest('it.runIf(process.platform === "linux")(\n  "collects", () => {})', "collects")).toBe(
      true,
    );
    expect(declaresTest('// it("keeps the evidence", () => {})', "keeps the evidence")).toBe(false);
  });
});
