#!/usr/bin/env node
// Hashing benchmark. Run after `pnpm exec tsc -b packages/hash` (it uses the built dist/):
//   node scripts/bench/hash.mjs [--size-mib 1024] [--files 5000] [--runs 3]
// Generates its data in a temp dir (removed at the end), measures the peer tools in the same run,
// and prints a Markdown table: best of --runs for every timing, peak RSS of our child processes.
// Ours runs in a child process per measurement so its memory is measured alone (/usr/bin/time -v);
// "ours" is the time of the library call, "ours, whole process" adds Node's start-up.
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HASH_DIST = new URL("../../packages/hash/dist/index.js", import.meta.url);

if (process.argv[2] === "--child") await child(process.argv[3], process.argv[4], process.argv[5]);
else await main();

/** One measurement in a fresh process: prints {ms} of the library call as JSON. */
async function child(kind, target, algorithms) {
  const { hashFile, hashTree } = await import(HASH_DIST.href);
  const options = { algorithms: algorithms.split(",") };
  const start = performance.now();
  if (kind === "file") await hashFile(target, options);
  else for await (const _entry of hashTree(target, options));
  process.stdout.write(JSON.stringify({ ms: performance.now() - start }));
}

async function main() {
  const { values } = parseArgs({
    options: {
      "size-mib": { type: "string", default: "1024" },
      files: { type: "string", default: "5000" },
      runs: { type: "string", default: "3" },
    },
  });
  const sizeMiB = Number(values["size-mib"]);
  const fileCount = Number(values.files);
  const runs = Number(values.runs);
  if (!existsSync(fileURLToPath(HASH_DIST))) throw new Error("build first: pnpm exec tsc -b packages/hash");
  const base = await mkdtemp(join(tmpdir(), "custody-hash-bench-"));
  const cleanup = () => rm(base, { recursive: true, force: true });
  process.once("SIGINT", () => cleanup().then(() => process.exit(130)));
  try {
    const big = join(base, "big.bin");
    const tree = join(base, "tree");
    writeRandomFile(big, sizeMiB * 1024 * 1024);
    const treeBytes = writeTree(tree, fileCount);
    spawnSync("cat", [big], { stdio: ["ignore", "ignore", "inherit"] }); // page-cache it
    const rows = measureAll({ big, tree, runs, sizeMiB, fileCount, treeBytes });
    printTable(rows, { sizeMiB, fileCount, treeBytes, runs });
  } finally {
    await cleanup();
  }
}

function measureAll({ big, tree, runs, sizeMiB, fileCount, treeBytes }) {
  const best = (fn) => Math.min(...Array.from({ length: runs }, fn));
  const openssl = (alg) => best(() => timed("openssl", ["dgst", `-${alg}`, big]));
  const ours = (kind, target, algs) => {
    const samples = Array.from({ length: runs }, () => runOurs(kind, target, algs));
    return {
      ms: Math.min(...samples.map((s) => s.ms)),
      processMs: Math.min(...samples.map((s) => s.processMs)),
      rssMiB: Math.max(...samples.map((s) => s.rssMiB)),
    };
  };
  const sha256 = { ours: ours("file", big, "sha256"), peer: openssl("sha256") };
  const three = {
    ours: ours("file", big, "sha256,sha1,md5"),
    peer: openssl("sha256") + openssl("sha1") + openssl("md5"),
  };
  const walk = {
    ours: ours("tree", tree, "sha256"),
    peer: best(() => timed("sh", ["-c", `find "${tree}" -type f -print0 | xargs -0 sha256sum > /dev/null`])),
  };
  const mib = (bytes) => (bytes / 1048576).toFixed(0);
  return [
    row(
      `sha256, ${sizeMiB} MiB file`,
      sha256,
      "openssl dgst -sha256",
      "throughput ≥ 0.9× peer (time ratio ≤ 1.11)",
    ),
    row(
      `sha256+sha1+md5, one read, ${sizeMiB} MiB`,
      three,
      "3 × openssl dgst, one after another",
      "time ≤ 0.8× peer",
    ),
    row(
      `hashTree, ${fileCount} files, ${mib(treeBytes)} MiB`,
      walk,
      "find -print0 | xargs -0 sha256sum",
      "faster than peer",
    ),
  ];
}

function row(name, { ours, peer }, peerName, target) {
  return { name, ours, peer, peerName, target, ratio: ours.ms / peer };
}

/** Wall time of a whole process, in ms. */
function timed(command, args) {
  const start = performance.now();
  const result = spawnSync(command, args, { stdio: ["ignore", "ignore", "inherit"] });
  if (result.status !== 0) throw new Error(`${command} failed`);
  return performance.now() - start;
}

/** Our child under /usr/bin/time -v: call time, whole-process time and peak RSS. */
function runOurs(kind, target, algorithms) {
  const args = [process.execPath, fileURLToPath(import.meta.url), "--child", kind, target, algorithms];
  const start = performance.now();
  const result = spawnSync("/usr/bin/time", ["-v", ...args], { encoding: "utf8" });
  const processMs = performance.now() - start;
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  const rssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)?.[1]);
  return { ms: JSON.parse(result.stdout).ms, processMs, rssMiB: rssKiB / 1024 };
}

function writeRandomFile(path, bytes) {
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(path, "w");
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

/** fileCount files of 8-24 KiB (16 KiB on average) in 50 folders. */
function writeTree(dir, fileCount) {
  let total = 0;
  const data = randomFillSync(Buffer.allocUnsafe(32 * 1024));
  for (let i = 0; i < fileCount; i++) {
    const folder = join(dir, `d${String(i % 50).padStart(2, "0")}`);
    if (i < 50) mkdirSync(folder, { recursive: true });
    const size = 8192 + ((i * 7919) % 16385);
    const fd = openSync(join(folder, `f${i}.bin`), "w");
    writeSync(fd, data, (i * 13) % 4096, size);
    closeSync(fd);
    total += size;
  }
  return total;
}

function printTable(rows, { sizeMiB, fileCount, treeBytes, runs }) {
  const s = (ms) => `${(ms / 1000).toFixed(3)} s`;
  const lines = [
    `Best of ${runs} runs; page-cached data; ${sizeMiB} MiB file, ${fileCount} files (${treeBytes} bytes).`,
    "",
    "| case | ours | ours, whole process | peer | peer time | ours/peer time | target | met | ours peak RSS |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const met = r.name.startsWith("sha256,")
      ? r.ratio <= 1 / 0.9
      : r.name.startsWith("sha256+")
        ? r.ratio <= 0.8
        : r.ratio < 1;
    lines.push(
      `| ${r.name} | ${s(r.ours.ms)} | ${s(r.ours.processMs)} | ${r.peerName} | ${s(r.peer)} | ${r.ratio.toFixed(2)} | ${r.target} | ${met ? "yes" : "no"} | ${r.ours.rssMiB.toFixed(0)} MiB |`,
    );
  }
  const peak = Math.max(...rows.map((r) => r.ours.rssMiB));
  lines.push("", `Peak RSS of any of our runs: ${peak.toFixed(0)} MiB (target ≤ 100 MiB).`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
