#!/usr/bin/env node
import { readFileSync, statSync } from "node:fs";

// `custody` runs the CLI from one bundle of its code and the workspace packages it uses
// (`pnpm run build` makes it with scripts/bundle-cli.mjs from main.ts): a command starts in about half
// the time it takes to resolve and load ~340 separate modules. Same code, same behaviour. Where there is
// no bundle, or one older than the compiled code (a `tsc -b` after an edit), the compiled modules run.
const bundleDir = new URL("../bundle/", import.meta.url);
if (bundleIsCurrent(bundleDir)) {
  // A debug log's stacks name the compiled files (dist/), not the bundle's chunks: mapping costs start-up
  // time, so only when debug lines are asked for.
  if (asksForDebug(process.argv.slice(2), process.env.CUSTODY_LOG_LEVEL)) process.setSourceMapsEnabled(true);
  await import(new URL("custody.js", bundleDir).href);
} else {
  await import(new URL("./main.js", import.meta.url).href);
}

/**
 * The bundle was made from the packages' current build: none of the build stamps it recorded
 * (built-from.json) is newer now. A stamp that is absent (an installed package) does not count.
 */
function bundleIsCurrent(dir: URL): boolean {
  try {
    statSync(new URL("custody.js", dir));
    const { stamps } = JSON.parse(readFileSync(new URL("built-from.json", dir), "utf8")) as {
      stamps: Record<string, number>;
    };
    if (typeof stamps !== "object" || stamps === null) return false;
    for (const [path, mtimeMs] of Object.entries(stamps)) {
      const now = statSync(new URL(path, dir), { throwIfNoEntry: false });
      if (now !== undefined && !(now.mtimeMs <= mtimeMs)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function asksForDebug(argv: string[], fromEnv: string | undefined): boolean {
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  for (let i = 0; i < end; i++) {
    if (argv[i] === "--log-level=debug" || (argv[i] === "--log-level" && argv[i + 1] === "debug"))
      return true;
  }
  return fromEnv === "debug";
}
