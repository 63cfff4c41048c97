import { extname } from "node:path";
import {
  extractPackage,
  hasZipMagic,
  type PackageProblem,
  type PackageReport,
  type VerifyOptions,
  verifyPackage,
} from "@custody/archive";
import { CustodyError, fixedClock, isCustodyError, toCustodyError } from "@custody/core";
import type { CommandContext, CommandSpec } from "../command.js";
import { formatBytes } from "../progress.js";
import { absolute, readText, required } from "./key-files.js";
import { rate } from "./package.js";
import { signatureTime, tsaTrustFrom } from "./tsa-options.js";

/** True when `file` is an investigation package: a .zip name or ZIP's local-header magic. */
export async function isZipFile(file: string): Promise<boolean> {
  return extname(file).toLowerCase() === ".zip" || (await hasZipMagic(file));
}

/** `custody verify P.zip --ca ca.pem [--json]`: exit 0 only when everything holds, 1 with every problem. */
export async function runVerifyPackage(ctx: CommandContext): Promise<number> {
  const file = absolute(ctx, ctx.positionals[0] as string);
  const { options, done } = withProgress(ctx, await trustOptions(ctx));
  const report = await refusedAsReport(file, () => verifyPackage(file, options)).finally(done);
  return printReport(ctx, report);
}

export const extractCommand: CommandSpec = {
  path: ["extract"],
  summary: "verify an investigation package, then extract it into an empty folder",
  usage: [
    "P.zip --to DIR --ca ca.pem [--crl crl.pem] [--at TIME] [--tsa-ca FILE] [--json]",
    "",
    "Nothing is written unless the whole package verifies (signature, both manifests, tag manifest,",
    "Payload-Oxum). DIR must be empty or absent; files land in DIR/<package name>/, never through links.",
  ].join("\n"),
  options: {
    to: { type: "string" },
    ca: { type: "string", multiple: true },
    crl: { type: "string", multiple: true },
    at: { type: "string" },
    "tsa-ca": { type: "string", multiple: true },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = absolute(ctx, ctx.positionals[0] as string);
    const target = absolute(ctx, required(ctx, "to"));
    const { options, done } = withProgress(ctx, await trustOptions(ctx));
    const report = await extractPackage(file, target, options)
      .catch((error: unknown) => {
        // A package that does not verify: list every problem, then let the first one's code decide.
        const problems = isCustodyError(error) ? error.details.problems : undefined;
        if (Array.isArray(problems))
          for (const problem of problems as PackageProblem[]) ctx.err(problemLine(problem));
        throw error;
      })
      .finally(done);
    if (ctx.json) ctx.printJson({ ...summary(report), to: target });
    else ctx.out(`extracted ${report.files} files of ${report.name} into ${target}`);
    return 0;
  },
};

async function trustOptions(ctx: CommandContext): Promise<VerifyOptions> {
  const caFiles = ctx.strings("ca");
  if (caFiles.length === 0)
    throw new CustodyError("ERR_USAGE", "--ca is required (the CA certificate to trust)");
  const trustAnchors = await Promise.all(caFiles.map((file) => readText(absolute(ctx, file), "CA file")));
  const crls = await Promise.all(ctx.strings("crl").map((file) => readText(absolute(ctx, file), "CRL file")));
  const at = ctx.string("at");
  if (at !== undefined && Number.isNaN(Date.parse(at)))
    throw new CustodyError("ERR_USAGE", `--at ${JSON.stringify(at)} is not a time`);
  const timestamp = await tsaTrustFrom(ctx);
  return {
    trust: { trustAnchors, crls, ...(timestamp === undefined ? {} : { timestamp }) },
    ...(at === undefined ? {} : { clock: fixedClock(at) }),
  };
}

/** Files, bytes and rate on a terminal's progress line (nothing when not a TTY); `done` clears it. */
function withProgress(
  ctx: CommandContext,
  base: VerifyOptions,
): { options: VerifyOptions; done: () => void } {
  const progress = ctx.progress();
  const started = Date.now();
  const options: VerifyOptions = {
    ...base,
    onProgress: ({ files, totalFiles, bytes, totalBytes }) =>
      progress.update(
        `${files}/${totalFiles} files, ${formatBytes(bytes)}/${formatBytes(totalBytes)}, ${rate(bytes, started)}`,
      ),
  };
  return { options, done: () => progress.done() };
}

/** A hostile archive is refused with a thrown code; for the command that is one more problem to print. */
async function refusedAsReport(file: string, run: () => Promise<PackageReport>): Promise<PackageReport> {
  try {
    return await run();
  } catch (error) {
    if (
      !isCustodyError(error) ||
      (!error.code.startsWith("ERR_ARCHIVE") &&
        !["ERR_UNSAFE_PATH", "ERR_DUPLICATE_PATH", "ERR_PACKAGE_INVALID"].includes(error.code))
    ) {
      throw isCustodyError(error) ? error : toCustodyError(error, "ERR_INTERNAL", `verifying ${file} failed`);
    }
    const path = typeof error.details.path === "string" ? error.details.path : undefined;
    return {
      ok: false,
      file,
      name: "",
      files: 0,
      payloadBytes: 0,
      problems: [{ code: error.code, message: error.message, ...(path === undefined ? {} : { path }) }],
    };
  }
}

/** The whole report as JSON: problems, who signed and when (with the chain), and the custody manifest. */
function summary(report: PackageReport) {
  const { ok, file, name, files, payloadBytes, problems, signature, manifest } = report;
  const signer =
    signature === undefined
      ? undefined
      : {
          ...signature.signer,
          signingTime: signature.signingTime.toISOString(),
          certificateChain: signature.certificateChain,
        };
  const timestamp = signature === undefined ? undefined : signatureTime(signature).json;
  return { ok, file, name, files, payloadBytes, problems, signer, timestamp, case: manifest?.case, manifest };
}

function printReport(ctx: CommandContext, report: PackageReport): number {
  if (ctx.json) ctx.printJson(summary(report));
  if (report.ok) {
    if (!ctx.json)
      ctx.out(
        `valid: ${report.file}: ${report.files} files, ${formatBytes(report.payloadBytes)} payload, signed by ${report.signature?.signer.subject}`,
      );
    if (!ctx.json && report.signature !== undefined) ctx.out(`  ${signatureTime(report.signature).text}`);
    return 0;
  }
  for (const problem of report.problems) ctx.err(problemLine(problem));
  ctx.err(`invalid: ${report.file}: ${report.problems.length} problem(s)`);
  return 1;
}

function problemLine(problem: PackageProblem): string {
  return `${problem.code}${problem.path === undefined ? "" : ` ${problem.path}`}: ${problem.message}`;
}
