#!/usr/bin/env node
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { checkTargets, toJUnit } from "./check.js";

const USAGE = "usage: ci-integrity-check --ca ca.pem [--crl crl.pem] [--junit report.xml] TARGET...";

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.ca === undefined || positionals.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const trust = {
    trustAnchors: [await readFile(values.ca, "utf8")],
    ...(values.crl === undefined ? {} : { crls: [await readFile(values.crl, "utf8")] }),
  };
  const outcomes = await checkTargets(positionals, trust);
  for (const o of outcomes) {
    process.stdout.write(`${o.ok ? "PASS" : "FAIL"}  ${o.kind.padEnd(14)} ${o.target}: ${o.summary}\n`);
    for (const p of o.problems)
      process.stdout.write(`      ${p.code}${p.path ? ` ${p.path}` : ""}: ${p.message}\n`);
  }
  if (values.junit !== undefined) await writeFile(values.junit, toJUnit(outcomes));
  const failed = outcomes.filter((o) => !o.ok).length;
  process.stdout.write(
    failed === 0
      ? `all ${outcomes.length} target(s) verified\n`
      : `${failed} of ${outcomes.length} target(s) FAILED\n`,
  );
  return failed === 0 ? 0 : 1;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: { ca: { type: "string" }, crl: { type: "string" }, junit: { type: "string" } },
    allowPositionals: true,
  });
}

process.exitCode = await main(process.argv.slice(2));
