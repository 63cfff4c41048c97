#!/usr/bin/env node
// Benchmark: the TempDirectories listing of /tmp, /var/tmp, /dev/shm (and the users' temp folders)
// against `find -xdev -printf` of the same fields over the same folders, in one run. A scratch tree of
// --entries entries is added to /tmp first (a busy machine's temp folders hold about 220,000) and
// removed at the end. Three things are timed, each a fresh process, interleaved:
//   - the collector alone: collectDevice({ only: ["TempDirectories"] }) into a directory, built dist/;
//   - the whole CLI: `custody collect --only TempDirectories --out X.zip` (signed package, verified);
//   - find /tmp /var/tmp /dev/shm -xdev -printf '<the same fields>'.
// Run: pnpm exec tsc -b packages/collect packages/cli && node packages/collect/bench/temp-listing.mjs
//      [--entries N] [--runs N] [--dist OTHER/packages/collect/dist/index.js] [--cli OTHER/packages/cli/dist/bin.js]
//      [--private]  (--dist, --cli: the code before a change, measured alongside)
// --private: the tree goes into a device root of its own (ROOT/tmp, ROOT/var/tmp, ROOT/dev/shm) and both
// listers read only that (collectDevice's `root`; find over the same three folders), so what the
// machine's real /tmp holds does not count; the CLI, which always lists the real folders, is not timed.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const option = (name, fallback) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const text = (name) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;

if (process.argv.includes("--child")) {
  const [out, dist, root] = process.argv.slice(process.argv.indexOf("--child") + 1);
  const { collectDevice, directorySink } = await import(pathToFileURL(resolve(dist)).href);
  const device = root === undefined ? {} : { root };
  const result = await collectDevice({ sink: directorySink(out), only: ["TempDirectories"], ...device });
  const row = result.rows.find((r) => r.dataPoint === "TempDirectories");
  process.stdout.write(JSON.stringify({ status: row.status, bytes: row.bytes }));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const dists = [fileURLToPath(new URL("../dist/index.js", import.meta.url)), text("--dist")].filter(Boolean);
const isPrivate = process.argv.includes("--private");
const clis = isPrivate
  ? []
  : [fileURLToPath(new URL("../../cli/dist/bin.js", import.meta.url)), text("--cli")].filter(Boolean);
const entries = option("--entries", 220_000);
const runs = option("--runs", 3);
const scratchRoot = mkdtempSync("/tmp/bench-temp-listing-");
const base = isPrivate ? join(scratchRoot, "tmp") : scratchRoot;
const listed = isPrivate
  ? ["tmp", "var/tmp", "dev/shm"].map((d) => join(scratchRoot, d))
  : ["/tmp", "/var/tmp", "/dev/shm"];
if (isPrivate) for (const dir of listed) mkdirSync(dir, { recursive: true });

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

const seconds = (t) => {
  const [, m, s] = /(\d+)m([\d.]+)s/.exec(t);
  return Number(m) * 60 + Number(s);
};

/** Runs argv in a shell that reports its children's CPU (`times`); stdout of the command is kept. */
function timed(argv, cwd, { failureOk = false } = {}) {
  const script = `"$@" > "$OUT" 2>"$OUT.err"; status=$?; times; exit $status`;
  const out = join(cwd, "stdout.txt");
  const started = performance.now();
  const run = spawnSync("sh", ["-c", script, "sh", ...argv], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, OUT: out },
  });
  const ms = performance.now() - started;
  // `times` prints the shell's own user/sys, then its children's.
  const [user, sys] = run.stdout.trim().split("\n").at(-1).split(" ");
  if (run.status !== 0 && !failureOk)
    throw new Error(`${argv.join(" ")} exited ${run.status}: ${spawnSync("cat", [`${out}.err`]).stdout}`);
  const result = { ms, cpuMs: (seconds(user) + seconds(sys)) * 1000, out };
  console.error(`${argv.slice(0, 4).join(" ")}: ${s(ms)} wall, ${s(result.cpuMs)} CPU`);
  return result;
}

const FIND_FORMAT = "%p,%y,%s,%U,%u,%G,%m,%T@,%A@,%C@,%B@,%l\\n";
const FIND_BARE = "find -xdev -printf without %u (no owner names)";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
// Outputs and the CLI's vault go where no lister looks (the home folder itself is not listed).
const scratch = mkdtempSync(join(homedir(), ".bench-temp-listing-out-"));
try {
  const t0 = performance.now();
  const made = buildTree();
  console.error(`added ${made} entries under ${base} in ${s(performance.now() - t0)}`);
  // The CLI signs with the vault it finds (created on the first run): make it before timing.
  for (const cli of clis) {
    const cwd = join(scratch, `cli-${clis.indexOf(cli)}`);
    mkdirSync(cwd);
    timed([process.execPath, cli, "collect", "--only", "SystemInformation", "--out", "warm.zip"], cwd);
  }
  const results = new Map();
  const add = (label, value) => results.set(label, [...(results.get(label) ?? []), value]);
  for (let i = 0; i < runs; i++) {
    for (const dist of dists) {
      const out = join(scratch, `out-${i}`);
      const run = timed(
        [process.execPath, self, "--child", out, dist, ...(isPrivate ? [scratchRoot] : [])],
        scratch,
      );
      const { status } = JSON.parse(spawnSync("cat", [run.out], { encoding: "utf8" }).stdout);
      add(`collector alone, ${dist}`, { ...run, status });
      rmSync(out, { recursive: true, force: true });
    }
    for (const cli of clis) {
      const cwd = join(scratch, `cli-${clis.indexOf(cli)}`);
      const run = timed(
        [process.execPath, cli, "collect", "--only", "TempDirectories", "--out", `run-${i}.zip`],
        cwd,
      );
      const line = spawnSync("grep", ["TempDirectories", run.out], { encoding: "utf8" }).stdout.trim();
      add(`whole CLI, ${cli}`, { ...run, status: line.split(/\s+/)[1] });
      rmSync(join(cwd, `run-${i}.zip`), { force: true });
    }
    // find exits 1 when an entry vanishes between its listing and its stat (other processes' temp files).
    const findArgs = ["find", ...listed, "-xdev", "-printf", FIND_FORMAT];
    add("find -xdev -printf (same fields)", timed(findArgs, scratch, { failureOk: true }));
    // Where glibc looks each owner name up in /etc/passwd again for every entry (no nscd), %u is most
    // of find's time: the walk alone, for the ratio that does not depend on that.
    const bareArgs = ["find", ...listed, "-xdev", "-printf", FIND_FORMAT.replace(",%u", "")];
    add(FIND_BARE, timed(bareArgs, scratch, { failureOk: true }));
  }
  const find = results.get("find -xdev -printf (same fields)");
  const findMs = median(find.map((r) => r.ms));
  const findCpu = median(find.map((r) => r.cpuMs));
  const bareCpu = median(results.get(FIND_BARE).map((r) => r.cpuMs));
  console.log(
    `${made} entries added to ${isPrivate ? `a device root of their own` : "/tmp"}; median of ${runs} runs`,
  );
  console.log(
    "| lister | wall time | CPU (user+sys) | wall ratio | CPU ratio | CPU ratio to find without %u | status |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const [label, list] of results) {
    const ms = median(list.map((r) => r.ms));
    const cpu = median(list.map((r) => r.cpuMs));
    const statuses = [...new Set(list.map((r) => r.status ?? ""))].join(", ");
    console.log(
      `| ${label} | ${s(ms)} | ${s(cpu)} | ${(ms / findMs).toFixed(2)}x | ${(cpu / findCpu).toFixed(2)}x | ${(cpu / bareCpu).toFixed(2)}x | ${statuses} |`,
    );
  }
} finally {
  rmSync(scratchRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}
