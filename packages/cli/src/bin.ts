#!/usr/bin/env node
// `custody` runs the CLI from one bundle of its code and the workspace packages it uses
// (`pnpm run build` makes it with scripts/bundle-cli.mjs from main.ts): a command starts in about half
// the time it takes to resolve and load ~340 separate modules. Same code, same behaviour.
const bundle = new URL("../bundle/custody.js", import.meta.url);
// A debug log's stacks name the compiled files (dist/), not the bundle's chunks: mapping costs start-up
// time, so only when debug lines are asked for.
if (asksForDebug(process.argv.slice(2), process.env.CUSTODY_LOG_LEVEL)) process.setSourceMapsEnabled(true);
try {
  await import(bundle.href);
} catch (error) {
  const missing = error as { code?: string; url?: string };
  if (missing.code !== "ERR_MODULE_NOT_FOUND" || missing.url !== bundle.href) throw error;
  process.stderr.write("custody: ERR_INTERNAL: the CLI's bundle is not built (run `pnpm run build`)\n");
  process.exitCode = 10; // EXIT.internal
}

function asksForDebug(argv: string[], fromEnv: string | undefined): boolean {
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  for (let i = 0; i < end; i++) {
    if (argv[i] === "--log-level=debug" || (argv[i] === "--log-level" && argv[i + 1] === "debug"))
      return true;
  }
  return fromEnv === "debug";
}
