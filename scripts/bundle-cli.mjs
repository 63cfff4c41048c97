#!/usr/bin/env node
// Bundles the CLI (packages/cli/dist/main.js and everything it imports) into packages/cli/bundle/, which
// packages/cli/dist/bin.js runs: one module graph resolved at build time instead of ~340 files resolved
// and loaded at every start. Run by `pnpm run build` after `tsc -b`, from the compiled output.
//
// What stays a file of its own, found at run time:
// - the audit verifier's worker module (verify-chunk.js), which the pool loads by URL beside itself;
// - the packages named by `bundleExternal` in packages/cli/package.json, left to Node's resolution from
//   the bundle's folder (so each is also a dependency of @custody/cli): node-forge and pino, which the
//   library packages load lazily with `require` (the bundle then shares their one copy), and
//   @custody/console, which finds its built app relative to its own file.
//
// Beside it, built-from.json: each workspace package's build stamp (tsc -b's .tsbuildinfo), the lockfile
// and this script as they were when the bundle was made. bin.js runs the compiled modules instead of a
// bundle older than any of them (a `tsc -b` after an edit, without this script), so `custody` never runs
// code the sources no longer say; and this script does nothing when none of them changed since.
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "packages/cli/bundle");
const stamps = await buildStamps();
if (await upToDate(stamps)) process.exit(0);
const { build } = await import("rolldown");
const cli = JSON.parse(await readFile(join(root, "packages/cli/package.json"), "utf8"));
// a package and any file in it ("node-forge/lib/asn1.js")
const externals = cli.bundleExternal;
const external = (id) => externals.some((name) => id === name || id.startsWith(`${name}/`));
// Imported inside a try by @azure/msal-node, for Kerberos sign-in only: absent here, and never needed.
const OPTIONAL = ["kerberos"];
await rm(out, { recursive: true, force: true });
const built = await build({
  input: {
    custody: join(root, "packages/cli/dist/main.js"),
    "verify-chunk": join(root, "packages/audit/dist/verify-chunk.js"),
  },
  platform: "node",
  external,
  output: {
    dir: out,
    format: "esm",
    entryFileNames: "[name].js",
    // one folder: a chunk that loads a worker module by URL finds it beside itself
    chunkFileNames: "[name]-[hash].js",
    sourcemap: true,
  },
  onLog(level, log) {
    console.error(`bundle-cli: ${level}: ${log.message}`);
  },
});

// Whatever the bundle still imports by name must be a builtin or declared: Node resolves it from the
// bundle's folder at run time, where nothing else is found (tests run with pnpm's NODE_PATH, which would
// hide a missing one).
const files = new Set(built.output.map((file) => file.fileName));
const left = new Set();
for (const file of built.output) {
  if (file.type !== "chunk") continue;
  for (const name of [...file.imports, ...file.dynamicImports]) if (!files.has(name)) left.add(name);
}
const undeclared = [...left].filter(
  (name) =>
    !name.startsWith("node:") &&
    !builtinModules.includes(name) &&
    !external(name) &&
    !OPTIONAL.includes(name),
);
if (undeclared.length > 0) {
  console.error(
    `bundle-cli: the bundle imports ${undeclared.join(", ")}: add to bundleExternal and dependencies`,
  );
  process.exit(1);
}

await writeFile(join(out, "built-from.json"), `${JSON.stringify({ stamps }, null, 2)}\n`);

/** What the bundle is made from, by mtime, keyed by the path from the bundle's folder (as bin.js reads it). */
async function buildStamps() {
  const files = [
    join(root, "pnpm-lock.yaml"),
    join(root, "packages/cli/package.json"),
    fileURLToPath(import.meta.url),
  ];
  for (const pkg of await readdir(join(root, "packages")))
    files.push(join(root, "packages", pkg, "dist", ".tsbuildinfo"));
  const found = {};
  for (const file of files) {
    const info = await stat(file).catch(() => undefined);
    if (info !== undefined) found[relative(out, file)] = info.mtimeMs;
  }
  return found;
}

async function upToDate(now) {
  const built = await readFile(join(out, "built-from.json"), "utf8").then(JSON.parse, () => undefined);
  const bundle = await stat(join(out, "custody.js")).catch(() => undefined);
  const same = (a, b) =>
    JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  return (
    bundle !== undefined &&
    typeof built?.stamps === "object" &&
    built.stamps !== null &&
    same(built.stamps, now)
  );
}
