import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkClaims,
  claimDocuments,
  isTestTitle,
  parseClaims,
  uncoveredDocuments,
} from "./support/docs-claims.ts";

// docs/claims.md: every guarantee the READMEs and docs/ state, and the test that shows it.
const root = join(import.meta.dirname, "..");
const claimsPath = join(root, "docs", "claims.md");
const claims = readFileSync(claimsPath, "utf8");

describe("docs/claims.md", () => {
  it("names, for every claim, a test that exists under that exact title", () => {
    const rows = parseClaims(claims);
    expect(rows.length).toBeGreaterThan(80);
    const problems = checkClaims(claims, root).map((p) => `docs/claims.md:${p.line}: ${p.message}`);
    expect(problems).toEqual([]);
  });

  it("has a table for every README and docs page, or lists it as without claims yet", () => {
    const documents = claimDocuments(root);
    expect(documents).toContain("packages/vault/README.md");
    expect(documents).not.toContain("docs/cli.md");
    const missing = uncoveredDocuments(claims, documents).map(
      (doc) => `${doc}: add its claims to docs/claims.md (or list it under "Documents without claims yet")`,
    );
    expect(missing).toEqual([]);
    const pendingOnly = "## Documents without claims yet\n\n- `docs/new.md`: written after the last review\n";
    expect(uncoveredDocuments(pendingOnly, ["docs/new.md", "docs/other.md"])).toEqual(["docs/other.md"]);
  });

  it("reports a wrong file, a wrong title, a missing test and a missing document", () => {
    const wrong = [
      "| claim | stated in | shown by |",
      "| --- | --- | --- |",
      "| real | `README.md` | `test/docs-claims.test.ts` › `names, for every claim, a test that exists under that exact title` |",
      "| no such file | `README.md` | `test/no-such.test.ts` › `anything` |",
      "| no such title | `README.md` | `test/docs-claims.test.ts` › `names every claim` |",
      "| a comment, not a test | `README.md` | `test/docs-claims.test.ts` › `docs/claims.md` |",
      "| untested | `README.md` |  |",
      "| undocumented | `docs/no-such.md` | `test/docs-claims.test.ts` › `names, for every claim, a test that exists under that exact title` |",
    ].join("\n");
    const problems = checkClaims(wrong, root);
    expect(problems.map((p) => p.line)).toEqual([4, 5, 6, 7, 8]);
    expect(problems.map((p) => p.message).join("\n")).toMatch(/test\/no-such\.test\.ts does not exist/);
    expect(problems[1]?.message).toMatch(/has no test titled "names every claim"/);
    expect(problems[3]?.message).toMatch(/no test in 'shown by'/);
    expect(problems[4]?.message).toMatch(/docs\/no-such\.md does not exist/);
  });

  it("takes titles from it/test calls and it.each tables only", () => {
    const source = [
      'it("direct title", () => {});',
      "it.concurrent('single quoted', () => {});",
      'it.each([["a", 1]])("refuses %s", (name) => {});',
      'test.skipIf(process.platform === "win32")(`a template title`, () => {});',
      'const label = "not a test";',
      'describe("a suite title", () => {});',
    ].join("\n");
    expect(isTestTitle(source, "direct title")).toBe(true);
    expect(isTestTitle(source, "single quoted")).toBe(true);
    expect(isTestTitle(source, "refuses %s")).toBe(true);
    expect(isTestTitle(source, "a template title")).toBe(true);
    expect(isTestTitle(source, "not a test")).toBe(false);
    expect(isTestTitle(source, "a suite title")).toBe(false);
    expect(isTestTitle(source, "direct")).toBe(false);
  });

  it("reads titles holding a backtick or a pipe", () => {
    const [row] = parseClaims(
      [
        "| claim | stated in | shown by |",
        "| --- | --- | --- |",
        "| x | `README.md` | `a.test.ts` › `` run `pnpm schemas` \\| now ``; `b.test.ts` › `plain` (it.each template) |",
      ].join("\n"),
    );
    expect(row?.tests).toEqual([
      { file: "a.test.ts", title: "run `pnpm schemas` | now" },
      { file: "b.test.ts", title: "plain" },
    ]);
  });
});
