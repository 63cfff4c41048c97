#!/usr/bin/env node
// Benchmark: `collect --only TempDirectories` (the listing of /tmp, /var/tmp, /dev/shm and the users'
// temp folders, built dist/) against `find -xdev -printf` of the same fields over the same folders, each
// in a fresh process, interleaved in one run. A tree of --entries entries is added to /tmp first.
// Run: pnpm exec tsc -b packages/collect && node packages/collect/bench/temp-listing.mjs [--entries N]
//      [--runs N] [--dist OTHER/dist/index.js]  (--dist: the code before a change, measured alongside)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const option = (name, fallback) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const text = (name) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;

if (process.argv.includes("--child")) {
  const [out, dist] = process.argv.slice(process.argv.indexOf("--child") + 1);
  const { collectDevice, directorySink } = await import(pathToFileURL(resolve(dist)).href);
  const result = await collectDevice({ sink: directorySink(out), only: ["TempDirectories"] });
  const row = result.rows.find((r) => r.dataPoint === "TempDirectories");
  const { user, system } = process.cpuUsage();
  const usage = { maxRssKiB: process.resourceUsage().maxRSS, cpuMs: (user + system) / 1000 };
  process.stdout.write(JSON.stringify({ row, ...usage }));
  process.exit(0);
}

const dists = [
  new URL("../dist/index.js", import.meta.url).pathname,
  ...(text("--dist") ? [text("--dist")] : []),
];
// /tmp's own entries come on top: keep the whole under the default cap of 200,000 listed entries.
const entries = option("--entries", 100_000);
const runs = option("--runs", 3);
const base = mkdtempSync("/tmp/bench-temp-listing-");

/** /tmp-like sessions: folders of ~200 entries, two levels deep. */
function buildTree() {
  let made = 0;
  for (let d = 0; made < entries; d++) {
    const dir = join(base, `session-${d}`, `sub-${d % 7}`);
    mkdirSync(dir, { recursive: true });
    made += 2;
    for (let f = 0; f < 200 && made < entries; f++, made++) writeFileSync(join(dir, `file-${f}.tmp`), "x");
  }
  return made;
}

function timed(fn) {
  const started = performance.now();
  const value = fn();
  return { ms: performance.now() - started, value };
}

const FIND_FORMAT = "%p,%y,%s,%U,%u,%G,%m,%T@,%A@,%C@,%B@,%l\\n";
const seconds = (t) => {
  const [, m, s] = /(\d+)m([\d.]+)s/.exec(t);
  return Number(m) * 60 + Number(s);
};

function runFind(listing) {
  const script = `find /tmp /var/tmp /dev/shm -xdev -printf '${FIND_FORMAT}' > "$1" 2>/dev/null; times`;
  const run = timed(() => spawnSync("sh", ["-c", script, "sh", listing], { encoding: "utf8" }));
  // `times` prints the shell's own user/sys, then its children's: find's.
  const [user, sys] = run.value.stdout.trim().split("\n").at(-1).split(" ");
  return { ms: run.ms, cpuMs: (seconds(user) + seconds(sys)) * 1000 };
}

function runCollect(dist, out) {
  const self = new URL(import.meta.url).pathname;
  const run = timed(() => execFileSync(process.execPath, [self, "--child", out, dist], { encoding: "utf8" }));
  const parsed = JSON.parse(run.value);
  return { ms: run.ms, cpuMs: parsed.cpuMs, rssKiB: parsed.maxRssKiB, status: parsed.row.status };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
try {
  const made = timed(buildTree);
  console.error(`added ${made.value} entries under ${base} in ${s(made.ms)}`);
  const results = { find: [], ...Object.fromEntries(dists.map((d) => [d, []])) };
  // Outputs go where neither lister looks (the home folder itself is not listed, only its temp folders).
  const scratch = mkdtempSync(join(homedir(), ".bench-temp-listing-out-"));
  for (let i = 0; i < runs; i++) {
    for (const dist of dists) {
      results[dist].push(runCollect(dist, join(scratch, `out-${i}`)));
      rmSync(join(scratch, `out-${i}`), { recursive: true, force: true });
    }
    results.find.push(runFind(join(scratch, "find.csv")));
    rmSync(join(scratch, "find.csv"), { force: true });
  }
  rmSync(scratch, { recursive: true, force: true });
  const findMs = median(results.find.map((r) => r.ms));
  const findCpu = median(results.find.map((r) => r.cpuMs));
  console.log(
    `| lister (median of ${runs}) | wall time | CPU (user+sys) | peak RSS | wall ratio | CPU ratio |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const dist of dists) {
    const ms = median(results[dist].map((r) => r.ms));
    const cpu = median(results[dist].map((r) => r.cpuMs));
    const rss = Math.round(median(results[dist].map((r) => r.rssKiB)) / 1024);
    const ratios = `${(ms / findMs).toFixed(2)}x | ${(cpu / findCpu).toFixed(2)}x`;
    console.log(
      `| TempDirectories, ${dist} (whole process) | ${s(ms)} | ${s(cpu)} | ${rss} MiB | ${ratios} |`,
    );
    console.error(`statuses ${dist}: ${results[dist].map((r) => r.status).join(", ")}`);
  }
  console.log(`| find -xdev -printf (same fields) | ${s(findMs)} | ${s(findCpu)} | n/a | 1.00x | 1.00x |`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
