#!/usr/bin/env node
// Screenshots of each page of the web console into docs/screenshots/ (referenced from docs/web-console.md),
// taken in Debian's Chromium against a real vault, `custody serve` and agent on loopback (the browser
// tests' harness, test/browser/harness.ts). With --load-time, the first load of the console (a fresh
// browser profile: new TLS connection, empty cache) until the devices table shows, median of --runs, with
// `custody devices list` as the peer (the same answer in a terminal); with --round-trip, the keystroke to
// output of `help` in the page's terminal against the CLI console's (`custody live connect`).
// Needs the build (`pnpm run build`) and /usr/bin/chromium.
//   node scripts/console-screenshots.mjs [--no-screenshots] [--load-time] [--round-trip] [--runs 15]
import { execSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { browserMissing, startHarness } from "../test/browser/harness.ts";
import { measureHelp } from "./console-figures/help-round-trip.mjs";
import { measureLoad } from "./console-figures/load-time.mjs";
import { takeScreenshots } from "./console-figures/screenshots.mjs";

const { values } = parseArgs({
  options: {
    "no-screenshots": { type: "boolean", default: false },
    "load-time": { type: "boolean", default: false },
    "round-trip": { type: "boolean", default: false },
    runs: { type: "string", default: "15" },
  },
});
if (browserMissing !== undefined) {
  process.stderr.write(`console-screenshots: ${browserMissing}\n`);
  process.exit(2);
}
const runs = Number(values.runs);
const h = await startHarness();
try {
  if (!values["no-screenshots"]) {
    const dir = join(import.meta.dirname, "..", "docs", "screenshots");
    mkdirSync(dir, { recursive: true });
    for (const file of await takeScreenshots(h, dir)) console.log(`wrote ${file}`);
  }
  if (values["load-time"] || values["round-trip"])
    console.log(`load: ${execSync("uptime").toString().trim()}`);
  if (values["load-time"]) console.log(`\n${await measureLoad(h, runs)}`);
  if (values["round-trip"]) console.log(`\n${await measureHelp(h, runs)}`);
} finally {
  await h.close();
}
