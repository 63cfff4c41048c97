#!/usr/bin/env node
// Runs every benchmark in scripts/bench/ one after another (each measures its peer tool in the same run):
//   ./dev bench            all of them
//   ./dev bench hash audit only those
// They need the built dist/ (./dev bench builds first) and print Markdown tables for docs/benchmarks.md.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const dir = new URL("./bench/", import.meta.url);
const wanted = process.argv.slice(2);
const all = readdirSync(dir)
  .filter((name) => name.endsWith(".mjs"))
  .map((name) => name.slice(0, -4))
  .sort();
let failed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  if (!all.includes(name)) {
    process.stderr.write(`no benchmark '${name}' (have: ${all.join(", ")})\n`);
    process.exit(2);
  }
  process.stdout.write(`\n## ${name}\n\n`);
  const run = spawnSync(process.execPath, ["--expose-gc", new URL(`${name}.mjs`, dir).pathname], {
    stdio: "inherit",
  });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
