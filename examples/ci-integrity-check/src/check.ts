import { readFile, stat } from "node:fs/promises";
import { hasZipMagic, verifyPackage } from "@custody/archive";
import { signedCustodyReportFromJson, verifyAuditLog, verifyCustodyReport } from "@custody/audit";
import { isCustodyError } from "@custody/core";
import { type TrustOptions, verifyDetached } from "@custody/manifest";

/** One thing a pipeline asked us to check, and what we found. */
export interface CheckOutcome {
  target: string;
  kind: "package" | "custody-report" | "audit-log" | "signed-file";
  ok: boolean;
  summary: string;
  problems: { code: string; path?: string; message: string }[];
}

/**
 * Checks each target offline with nothing but the trust anchors: a `.zip` investigation package, a
 * custody report (`*.json` with a signature), an audit-log directory, or any file with a `FILE.p7s` beside it.
 */
export async function checkTargets(targets: readonly string[], trust: TrustOptions): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const target of targets) outcomes.push(await checkTarget(target, trust));
  return outcomes;
}

async function checkTarget(target: string, trust: TrustOptions): Promise<CheckOutcome> {
  try {
    if ((await stat(target)).isDirectory()) return await checkAuditLog(target, trust);
    if (await hasZipMagic(target)) return await checkPackage(target, trust);
    if (target.endsWith(".json")) return await checkReport(target, trust);
    return await checkSignedFile(target, trust);
  } catch (error) {
    const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
    return {
      target,
      kind: "signed-file",
      ok: false,
      summary: "could not be checked",
      problems: [{ code, message: String((error as Error).message) }],
    };
  }
}

async function checkPackage(target: string, trust: TrustOptions): Promise<CheckOutcome> {
  const report = await verifyPackage(target, { trust });
  const items = report.manifest?.items.length ?? 0;
  const summary = report.ok
    ? `${items} item(s), signature and every digest valid`
    : `${report.problems.length} problem(s)`;
  return { target, kind: "package", ok: report.ok, summary, problems: report.problems };
}

async function checkReport(target: string, trust: TrustOptions): Promise<CheckOutcome> {
  const signed = signedCustodyReportFromJson(await readFile(target, "utf8"));
  const result = verifyCustodyReport(signed, trust);
  return {
    target,
    kind: "custody-report",
    ok: true,
    summary: `${result.events} event(s) proven, signed by ${result.signer}`,
    problems: [],
  };
}

async function checkAuditLog(target: string, trust: TrustOptions): Promise<CheckOutcome> {
  const report = await verifyAuditLog({ dir: target }, { trust });
  const problems =
    report.problem === undefined ? [] : [{ code: report.problem.code, message: report.problem.message }];
  const summary = `${report.records} record(s), ${report.checkpoints} signed checkpoint(s)`;
  return { target, kind: "audit-log", ok: report.ok, summary, problems };
}

async function checkSignedFile(target: string, trust: TrustOptions): Promise<CheckOutcome> {
  const info = verifyDetached(await readFile(target), await readFile(`${target}.p7s`), trust);
  return {
    target,
    kind: "signed-file",
    ok: true,
    summary: `signed by ${info.signer.subject} at ${info.signingTime.toISOString()}`,
    problems: [],
  };
}

/** JUnit XML, which every CI system shows as a test report. */
export function toJUnit(outcomes: readonly CheckOutcome[]): string {
  const xml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const cases = outcomes.map((o) => {
    const failure = o.ok
      ? ""
      : `<failure message="${xml(o.summary)}">${xml(o.problems.map((p) => `${p.code} ${p.path ?? ""} ${p.message}`).join("\n"))}</failure>`;
    return `  <testcase classname="custody.${o.kind}" name="${xml(o.target)}">${failure}</testcase>`;
  });
  const failures = outcomes.filter((o) => !o.ok).length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="custody integrity" tests="${outcomes.length}" failures="${failures}">\n${cases.join("\n")}\n</testsuite>\n`;
}
