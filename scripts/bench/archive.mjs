#!/usr/bin/env node
// Investigation-package benchmark. Run after `pnpm exec tsc -b packages/archive` (it uses the built dist/):
//   node scripts/bench/archive.mjs [--files 5000] [--big-mib 1024] [--big text|random] [--runs 1]
// Generates a tree (--files small log-like text files of ~16 KiB, plus one --big-mib file) in a temp
// dir (removed at the end) and measures, in the same run:
//   write:  custody packageDirectory (sign included)  vs  `zip -r -6 -q` followed by `sha256sum` of every file
//   verify: custody verifyPackage                     vs  `unzip -q` to a temp dir followed by `sha256sum -c`
// Ours runs in a child process per measurement so its peak memory is measured alone (/usr/bin/time -v).
// Prints a Markdown table: best of --runs for every timing.
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ARCHIVE_DIST = new URL("../../packages/archive/dist/index.js", import.meta.url);
const MANIFEST_DIST = new URL("../../packages/manifest/dist/index.js", import.meta.url);

if (process.argv[2] === "--child") await child(process.argv.slice(3));
else await main();

/** One measurement in a fresh process: prints {ms} of the library call as JSON. */
async function child([kind, ...args]) {
  const { readFileSync } = await import("node:fs");
  // Private (anonymous) memory, sampled: RSS also counts ~48 MiB of the node binary's shared file pages.
  const anonKiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
  let peakAnonKiB = anonKiB();
  const sampler = setInterval(() => {
    peakAnonKiB = Math.max(peakAnonKiB, anonKiB());
  }, 5);
  const archive = await import(ARCHIVE_DIST.href);
  const manifest = await import(MANIFEST_DIST.href);
  const start = performance.now();
  if (kind === "write") {
    const [tree, out, keyFile, certFile] = args;
    const signer = await manifest.loadSignerFromFiles({ keyFile, certFile });
    const device = { id: "bench-device" };
    const collector = { operator: "bench", tool: "bench", toolVersion: "0", host: "bench" };
    await archive.packageDirectory(tree, out, { name: "BENCH", device, collector, signer });
  } else {
    const [pkg, caFile] = args;
    const report = await archive.verifyPackage(pkg, {
      trust: { trustAnchors: [readFileSync(caFile, "utf8")] },
    });
    if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.problems.slice(0, 3))}`);
  }
  const ms = performance.now() - start;
  clearInterval(sampler);
  process.stdout.write(JSON.stringify({ ms, anonMiB: Math.max(peakAnonKiB, anonKiB()) / 1024 }));
}

async function main() {
  const { values } = parseArgs({
    options: {
      files: { type: "string", default: "5000" },
      "big-mib": { type: "string", default: "1024" },
      big: { type: "string", default: "text" },
      runs: { type: "string", default: "1" },
    },
  });
  const runs = Number(values.runs);
  if (!existsSync(fileURLToPath(ARCHIVE_DIST)))
    throw new Error("build first: pnpm exec tsc -b packages/archive");
  const base = await mkdtemp(join(tmpdir(), "custody-archive-bench-"));
  const cleanup = () => rm(base, { recursive: true, force: true });
  process.once("SIGINT", () => cleanup().then(() => process.exit(130)));
  try {
    const tree = join(base, "tree");
    const smallBytes = writeTree(tree, Number(values.files));
    writeBig(join(tree, "big.bin"), Number(values["big-mib"]) * 1024 * 1024, values.big);
    const keys = await writeKeys(base);
    spawnSync("sh", ["-c", `cat ${join(tree, "big.bin")} > /dev/null`]); // page-cache it for everyone
    const rows = measure({ base, tree, keys, runs });
    printTable(rows, {
      files: Number(values.files),
      smallBytes,
      bigMiB: values["big-mib"],
      big: values.big,
      runs,
    });
  } finally {
    await cleanup();
  }
}

function measure({ base, tree, keys, runs }) {
  const ours = join(base, "ours.zip");
  const theirs = join(base, "theirs.zip");
  const best = (fn) => {
    const results = Array.from({ length: runs }, fn);
    return results.reduce((a, b) => (a.ms <= b.ms ? a : b));
  };
  const write = best(() => {
    spawnSync("rm", ["-f", ours]);
    return ourChild(["write", tree, ours, keys.keyFile, keys.certFile]);
  });
  const zipThenHash = best(() => {
    spawnSync("rm", ["-f", theirs]);
    const zip = timed("zip", ["-r", "-6", "-q", theirs, "tree"], { cwd: base });
    const hash = timed("sh", ["-c", "find tree -type f -print0 | xargs -0 sha256sum > /dev/null"], {
      cwd: base,
    });
    return { ms: zip.ms + hash.ms, zipMs: zip.ms };
  });
  const verify = best(() => ourChild(["verify", ours, keys.caFile]));
  const unzipThenCheck = best(() => {
    const out = join(base, "unzipped");
    spawnSync("rm", ["-rf", out]);
    const unzip = timed("unzip", ["-q", ours, "-d", out]);
    const check = timed("sha256sum", ["-c", "--quiet", "manifest-sha256.txt"], { cwd: join(out, "BENCH") });
    spawnSync("rm", ["-rf", out]);
    return { ms: unzip.ms + check.ms, unzipMs: unzip.ms };
  });
  const sizes = {
    ours: Number(spawnSync("stat", ["-c", "%s", ours]).stdout.toString()),
    theirs: Number(spawnSync("stat", ["-c", "%s", theirs]).stdout.toString()),
  };
  return { write, zipThenHash, verify, unzipThenCheck, sizes };
}

/** Runs our child under /usr/bin/time -v: the library call's ms, and the process's peak RSS. */
function ourChild(args) {
  const run = spawnSync(
    "/usr/bin/time",
    ["-v", process.execPath, fileURLToPath(import.meta.url), "--child", ...args],
    {
      maxBuffer: 1 << 20,
    },
  );
  if (run.status !== 0) throw new Error(`child ${args[0]} failed: ${run.stderr.toString().slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr.toString());
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(
    run.stderr.toString(),
  );
  const wallMs =
    wall === null
      ? Number.NaN
      : ((Number(wall[1] ?? 0) * 60 + Number(wall[2])) * 60 + Number(wall[3])) * 1000;
  return {
    ...JSON.parse(run.stdout.toString()),
    rssMiB: rss === null ? Number.NaN : Number(rss[1]) / 1024,
    wallMs,
  };
}

function timed(command, args, options = {}) {
  const start = performance.now();
  const run = spawnSync(command, args, { stdio: ["ignore", "ignore", "pipe"], ...options });
  if (run.status !== 0) throw new Error(`${command} failed: ${run.stderr.toString()}`);
  return { ms: performance.now() - start };
}

/** Log-like text, different in every file: compressible about 3-4×, as collected text output is. */
function textChunk(size, seed) {
  const out = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  let at = 0;
  while (at < size) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const line = `2026-01-02T03:${String(state % 60).padStart(2, "0")}:${String((state >>> 6) % 60).padStart(2, "0")}Z host=ws-${state % 97} pid=${state % 9973} event=${(state >>> 3).toString(36)} user=u${state % 313} ok\n`;
    at += out.write(line, at);
  }
  return out;
}

function writeTree(root, count) {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const dir = join(root, `d${String(i % 50).padStart(2, "0")}`);
    mkdirSync(dir, { recursive: true });
    const data = textChunk(12 * 1024 + ((i * 7919) % 8192), i + 1);
    writeFileSync(join(dir, `f${i}.log`), data);
    total += data.length;
  }
  return total;
}

function writeBig(path, size, kind) {
  const fd = openSync(path, "w");
  const block = 8 * 1024 * 1024;
  const text = kind === "text" ? textChunk(block, 424242) : undefined;
  const random = Buffer.alloc(block);
  for (let done = 0, n = 0; done < size; done += block, n++) {
    let data;
    if (text === undefined) data = randomFillSync(random);
    else {
      data = Buffer.from(text);
      data.write(`block ${n} `, 0); // differs per block; deflate's 32 KiB window cannot see 8 MiB back anyway
    }
    writeSync(fd, data, 0, Math.min(block, size - done));
  }
  closeSync(fd);
}

async function writeKeys(base) {
  const manifest = await import(MANIFEST_DIST.href);
  const ca = await manifest.createCertificateAuthority({ commonName: "Bench CA" });
  const leaf = await manifest.issueCertificate(ca, { commonName: "Bench Signer", usage: "signer" });
  const files = {
    caFile: join(base, "ca.pem"),
    keyFile: join(base, "signer.key"),
    certFile: join(base, "signer.pem"),
  };
  writeFileSync(files.caFile, ca.certificatePem);
  writeFileSync(files.keyFile, leaf.keyPem);
  writeFileSync(files.certFile, leaf.certificatePem);
  return files;
}

function printTable(rows, info) {
  const s = (ms) => (ms / 1000).toFixed(2);
  const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
  const mib = (bytes) => (bytes / 1024 / 1024).toFixed(0);
  const lines = [
    `${info.files} text files (${mib(info.smallBytes)} MiB) + one ${info.bigMiB} MiB ${info.big} file, best of ${info.runs}, node ${process.version}`,
    "",
    "| operation | ours s | peer s | ours / peer | our peak RSS MiB | our peak private MiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    `| write package (ours: packageDirectory, signed) vs zip -r -6 + sha256sum | ${s(rows.write.ms)} | ${s(rows.zipThenHash.ms)} | ${ratio(rows.write.ms, rows.zipThenHash.ms)} | ${rows.write.rssMiB.toFixed(0)} | ${rows.write.anonMiB.toFixed(0)} |`,
    `| (ours, whole process incl. Node start) vs zip -r -6 alone | ${s(rows.write.wallMs)} | ${s(rows.zipThenHash.zipMs)} | ${ratio(rows.write.wallMs, rows.zipThenHash.zipMs)} | | |`,
    `| verify package (ours: verifyPackage) vs unzip -q + sha256sum -c | ${s(rows.verify.ms)} | ${s(rows.unzipThenCheck.ms)} | ${ratio(rows.verify.ms, rows.unzipThenCheck.ms)} | ${rows.verify.rssMiB.toFixed(0)} | ${rows.verify.anonMiB.toFixed(0)} |`,
    `| (ours, whole process incl. Node start) vs unzip -q alone | ${s(rows.verify.wallMs)} | ${s(rows.unzipThenCheck.unzipMs)} | ${ratio(rows.verify.wallMs, rows.unzipThenCheck.unzipMs)} | | |`,
    "",
    `archive size: ours ${mib(rows.sizes.ours)} MiB, zip -6 ${mib(rows.sizes.theirs)} MiB`,
    `targets: write ≤ 1.0× ${rows.write.ms <= rows.zipThenHash.ms ? "met" : "NOT met"}; verify ≤ 1.0× ${rows.verify.ms <= rows.unzipThenCheck.ms ? "met" : "NOT met"}; peak RSS ≤ 150 MiB ${Math.max(rows.write.rssMiB, rows.verify.rssMiB) <= 150 ? "met" : "NOT met"}; peak private ≤ 150 MiB ${Math.max(rows.write.anonMiB, rows.verify.anonMiB) <= 150 ? "met" : "NOT met"}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
