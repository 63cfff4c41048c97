import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// docs/claims.md maps every guarantee the documentation states to the test that shows it. This module
// reads its tables and checks each reference against the test sources, so a renamed or deleted test
// (or a claim left without one) fails the build instead of leaving a promise nobody checks.

export interface TestReference {
  file: string;
  title: string;
}

export interface ClaimRow {
  line: number;
  claim: string;
  statedIn: string;
  shownBy: string;
  tests: TestReference[];
}

export interface ClaimProblem {
  line: number;
  message: string;
}

const SHOWN_BY_HEADER = /^\|\s*claim\s*\|\s*stated in\s*\|\s*shown by\s*\|$/i;
// `path/to/file.test.ts` › `exact title`, or › `` a title holding a backtick `` (Markdown's rule).
const REFERENCE = /`([^`\s]+)` › (`+) ?(.+?) ?\2(?!`)/g;

function splitRow(line: string): string[] {
  const cells = line
    .trim()
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/);
  return cells.map((cell) => cell.trim().replaceAll("\\|", "|"));
}

function isSeparator(line: string): boolean {
  return /^\|[\s:|-]+\|$/.test(line.trim());
}

export function parseReferences(cell: string): TestReference[] {
  return [...cell.matchAll(REFERENCE)].map((match) => ({ file: match[1] ?? "", title: match[3] ?? "" }));
}

/** Every row of every table whose header is `| claim | stated in | shown by |`. */
export function parseClaims(markdown: string): ClaimRow[] {
  const rows: ClaimRow[] = [];
  let inTable = false;
  let inFence = false;
  markdown.split("\n").forEach((text, index) => {
    const line = text.trim();
    if (line.startsWith("```")) inFence = !inFence;
    if (inFence || !line.startsWith("|")) {
      inTable = false;
      return;
    }
    if (SHOWN_BY_HEADER.test(line.replace(/\s+/g, " "))) {
      inTable = true;
      return;
    }
    if (!inTable || isSeparator(line)) return;
    const [claim = "", statedIn = "", shownBy = ""] = splitRow(line);
    rows.push({ line: index + 1, claim, statedIn, shownBy, tests: parseReferences(shownBy) });
  });
  return rows;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// A title counts when it is the first argument of it(...)/test(...) (with modifiers such as .only or
// .concurrent), or of the call an it.each/test.each/it.skipIf/it.runIf/it.for table returns.
const DIRECT_CALL = /\b(?:it|test)(?:\.(?:only|skip|concurrent|sequential|fails))*\s*\(\s*$/;
const TABLE_CALL = /\b(?:it|test)\.(?:each|skipIf|runIf|for)\s*\(/;

export function isTestTitle(source: string, title: string): boolean {
  const quoted = new RegExp(`(["'\`])${escapeRegExp(title)}\\1`, "g");
  for (const match of source.matchAll(quoted)) {
    const before = source.slice(Math.max(0, match.index - 4000), match.index);
    if (DIRECT_CALL.test(before)) return true;
    if (/\)\s*\(\s*$/.test(before) && TABLE_CALL.test(before)) return true;
  }
  return false;
}

function statedInFile(statedIn: string): string | undefined {
  return /`?([\w./-]+\.md)`?/.exec(statedIn)?.[1];
}

/** Problems of one row: no test, a missing file, a title that is not a test in that file. */
export function checkRow(
  row: ClaimRow,
  root: string,
  read = (path: string) => readFileSync(path, "utf8"),
): ClaimProblem[] {
  const problems: ClaimProblem[] = [];
  const at = (message: string) =>
    problems.push({ line: row.line, message: `${message} (claim: ${row.claim})` });
  if (row.claim === "") at("a row without a claim");
  const doc = statedInFile(row.statedIn);
  if (doc === undefined) at("no documentation file in 'stated in'");
  else if (!existsSync(join(root, doc))) at(`the documentation file ${doc} does not exist`);
  if (row.tests.length === 0) at("no test in 'shown by'");
  for (const { file, title } of row.tests) {
    const path = join(root, file);
    if (!existsSync(path)) at(`the test file ${file} does not exist`);
    else if (!isTestTitle(read(path), title)) at(`${file} has no test titled "${title}"`);
  }
  return problems;
}

export function checkClaims(markdown: string, root: string): ClaimProblem[] {
  return parseClaims(markdown).flatMap((row) => checkRow(row, root));
}

// Generated or measured pages: their statements are checked elsewhere (docs/cli.md by the CLI's docs
// test, docs/benchmarks.md by the benchmark scripts that print it).
const NOT_CLAIMS = new Set(["docs/cli.md", "docs/benchmarks.md", "docs/claims.md"]);

/** README.md, packages/x/README.md, examples/x/README.md and docs/*.md: the documents that state claims. */
export function claimDocuments(root: string): string[] {
  const readmes = (folder: string) =>
    existsSync(join(root, folder))
      ? readdirSync(join(root, folder))
          .map((name) => `${folder}/${name}/README.md`)
          .filter((path) => existsSync(join(root, path)))
      : [];
  const docs = readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`);
  return ["README.md", ...readmes("packages"), ...readmes("examples"), ...docs].filter(
    (d) => !NOT_CLAIMS.has(d),
  );
}

/** Paths listed (in backticks) under the heading "Documents without claims yet". */
export function documentsWithoutClaims(markdown: string): string[] {
  const section =
    /^## Documents without claims yet\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown)?.[1] ?? "";
  return [...section.matchAll(/^- `([^`]+\.md)`/gm)].map((match) => match[1] ?? "");
}

/** Documents that state claims but have no row in docs/claims.md and are not listed as pending. */
export function uncoveredDocuments(markdown: string, documents: string[]): string[] {
  const stated = new Set(
    parseClaims(markdown).flatMap((row) => [...row.statedIn.matchAll(/`([\w./-]+\.md)`/g)].map((m) => m[1])),
  );
  const pending = new Set(documentsWithoutClaims(markdown));
  return documents.filter((doc) => !stated.has(doc) && !pending.has(doc));
}
