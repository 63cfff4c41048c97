#!/usr/bin/env node
// Disk acquisition benchmark (root: it makes a loop device). Run after `pnpm exec tsc -b`:
//   node scripts/bench/acquire.mjs [--mib 2048] [--rounds 1]
// A disk-like image (1/4 random, 1/4 repetitive text, 1/2 zeros) behind a read-only loop device is
// acquired, in the same run, by:
//   custody acquire --hash sha256,md5 (into a fresh fs vault; every object fsynced)
//   dc3dd hash=sha256 hash=md5 of=FILE, then `sync FILE` (so both end durable on disk)
//   ewfacquire -d sha256 (md5 always), uncompressed and deflate:fast E01
//   custody acquire --compress zstd
// All write to the same disk (the temp folder). The source stays in the page cache for everyone: this
// measures the hashing and writing path, not the source medium. Ours runs in a child process; its peak
// private memory (RssAnon, sampled) is reported. Prints a Markdown table with medians of --rounds.
import { execFileSync, spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ACQUIRE_DIST = new URL("../../packages/acquire/dist/index.js", import.meta.url);
const VAULT_DIST = new URL("../../packages/vault/dist/index.js", import.meta.url);

if (process.argv[2] === "--child") await child(process.argv.slice(3));
else await main();

/** One acquisition in a fresh process: prints {ms, anonMiB, storedBytes} as JSON. */
async function child([vaultDir, identityFile, device, compress]) {
  const anonKiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
  let peakAnonKiB = anonKiB();
  const sampler = setInterval(() => {
    peakAnonKiB = Math.max(peakAnonKiB, anonKiB());
  }, 5);
  const { acquire } = await import(ACQUIRE_DIST.href);
  const { Vault } = await import(VAULT_DIST.href);
  const vault = await Vault.open({ dir: vaultDir });
  const principal = vault.authenticate(readFileSync(identityFile, "utf8"));
  const start = performance.now();
  const item = await acquire(vault, principal, device, {
    caseId: `BENCH-${process.pid}`,
    alsoDigests: ["md5"], // what dc3dd is asked for: sha256 and md5
    ...(compress === "zstd" ? { compress: "zstd" } : {}),
  });
  const ms = performance.now() - start;
  clearInterval(sampler);
  await vault.close();
  const storedBytes = item.image?.storedAs?.size ?? item.size;
  process.stdout.write(
    JSON.stringify({ ms, anonMiB: Math.max(peakAnonKiB, anonKiB()) / 1024, storedBytes, id: item.id }),
  );
}

async function main() {
  const { values } = parseArgs({
    options: { mib: { type: "string", default: "2048" }, rounds: { type: "string", default: "1" } },
  });
  if (process.getuid?.() !== 0)
    throw new Error("the acquisition benchmark makes a loop device: run it as root");
  for (const tool of ["dc3dd", "ewfacquire", "losetup"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is missing: apt-get install dc3dd ewf-tools`);
  }
  if (!existsSync(fileURLToPath(ACQUIRE_DIST))) throw new Error("build first: pnpm exec tsc -b");
  const base = await mkdtemp(join(tmpdir(), "custody-acquire-bench-"));
  let device;
  const cleanup = async () => {
    if (device !== undefined) spawnSync("losetup", ["--detach", device]);
    await rm(base, { recursive: true, force: true });
  };
  process.once("SIGINT", () => cleanup().then(() => process.exit(130)));
  try {
    const image = join(base, "disk.img");
    writeDiskLike(image, Number(values.mib));
    device = execFileSync("losetup", ["--find", "--show", "--read-only", image], { encoding: "utf8" }).trim();
    spawnSync("sh", ["-c", `cat ${device} > /dev/null`]); // the source in the page cache for everyone
    const rows = measure(base, device, Number(values.rounds));
    printTable(rows, Number(values.mib), Number(values.rounds));
  } finally {
    await cleanup();
  }
}

function writeDiskLike(path, mib) {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(1024 * 1024);
  const text = Buffer.from(
    "Jan 01 00:00:00 host sshd[1234]: Accepted publickey for root from 10.0.0.1\n".repeat(14_000),
  );
  for (let i = 0; i < mib; i += 1) {
    if (i % 4 === 0) randomFillSync(chunk);
    else if (i % 4 === 1) text.copy(chunk, 0, 0, chunk.length);
    else chunk.fill(0);
    writeSync(fd, chunk);
  }
  closeSync(fd);
}

function measure(base, device, rounds) {
  const vault = initVault(base);
  const results = { ours: [], dc3dd: [], ewf: [], ewfFast: [], oursZstd: [] };
  for (let round = 0; round < rounds; round += 1) {
    results.dc3dd.push(dc3dd(base, device));
    results.ours.push(ours(vault, device));
    results.ewf.push(ewfacquire(base, device, "none"));
    results.ewfFast.push(ewfacquire(base, device, "fast"));
    results.oursZstd.push(ours(vault, device, "zstd"));
  }
  return results;
}

function initVault(base) {
  const dir = join(base, "vault");
  const script = `
    const { Vault } = await import(${JSON.stringify(VAULT_DIST.href)});
    const { writeFileSync } = await import("node:fs");
    const { vault, identityPem } = await Vault.init(${JSON.stringify(dir)}, { custodian: "bench", keyBits: 2048 });
    writeFileSync(${JSON.stringify(join(base, "bench.pem"))}, identityPem, { mode: 0o600 });
    await vault.close();`;
  execFileSync(process.execPath, ["--input-type=module", "-e", script]);
  return { dir, identity: join(base, "bench.pem") };
}

function ours(vault, device, compress = "none") {
  const run = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), "--child", vault.dir, vault.identity, device, compress],
    {
      maxBuffer: 1 << 20,
    },
  );
  if (run.status !== 0) throw new Error(`custody acquire failed: ${run.stderr.toString().slice(-2000)}`);
  const result = JSON.parse(run.stdout.toString());
  // Each round acquires into its own case; drop the stored copy so the disk does not fill.
  spawnSync("sh", ["-c", `find ${join(vault.dir, "store")} -name data -type f -exec truncate -s 0 {} +`]);
  return result;
}

function dc3dd(base, device) {
  const out = join(base, "dc3dd.raw");
  const start = performance.now();
  run("dc3dd", [
    `if=${device}`,
    `of=${out}`,
    "hash=sha256",
    "hash=md5",
    "nwspc=on",
    `log=${join(base, "dc3dd.log")}`,
  ]);
  run("sync", [out]);
  const ms = performance.now() - start;
  const bytes = statSync(out).size;
  spawnSync("rm", ["-f", out, join(base, "dc3dd.log")]);
  return { ms, storedBytes: bytes };
}

function ewfacquire(base, device, level) {
  const target = join(base, `ewf-${level}`);
  const start = performance.now();
  run("ewfacquire", [
    "-u",
    "-q",
    "-t",
    target,
    "-d",
    "sha256",
    "-c",
    `deflate:${level}`,
    "-S",
    "7EiB",
    device,
  ]);
  const files = readdirSync(base).filter((name) => name.startsWith(`ewf-${level}.`));
  run(
    "sync",
    files.map((name) => join(base, name)),
  );
  const ms = performance.now() - start;
  const storedBytes = files.reduce((sum, name) => sum + statSync(join(base, name)).size, 0);
  for (const name of files) spawnSync("rm", ["-f", join(base, name)]);
  return { ms, storedBytes };
}

function run(command, args) {
  const result = spawnSync(command, args, { maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.toString().slice(-2000)}`);
}

function printTable(results, mib, rounds) {
  const median = (list, key) =>
    [...list.map((r) => r[key])].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const speed = (ms) => `${(mib / 1024 / (ms / 1000)).toFixed(2)} GiB/s`;
  const size = (bytes) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
  const dcMs = median(results.dc3dd, "ms");
  const ewfFastMs = median(results.ewfFast, "ms");
  const ewfFastBytes = median(results.ewfFast, "storedBytes");
  const rows = [
    [
      "custody acquire --hash sha256,md5",
      results.ours,
      `${(median(results.ours, "ms") / dcMs).toFixed(2)}× dc3dd`,
    ],
    ["dc3dd hash=sha256 hash=md5 + sync", results.dc3dd, "1.00× dc3dd"],
    [
      "ewfacquire -d sha256 (md5), uncompressed E01",
      results.ewf,
      `${(median(results.ewf, "ms") / dcMs).toFixed(2)}× dc3dd`,
    ],
    [
      "custody acquire --hash sha256,md5 --compress zstd",
      results.oursZstd,
      `${(median(results.oursZstd, "ms") / ewfFastMs).toFixed(2)}× ewfacquire's time, ${(median(results.oursZstd, "storedBytes") / ewfFastBytes).toFixed(2)}× its size`,
    ],
    ["ewfacquire -c deflate:fast (compressed E01)", results.ewfFast, "1.00× (compressed peer)"],
  ];
  process.stdout.write(
    `${mib} MiB disk-like loop device (1/4 random, 1/4 text, 1/2 zeros), median of ${rounds} round(s), load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}\n\n`,
  );
  process.stdout.write(
    "| acquisition | time | speed | stored | peak private memory | ratio |\n|---|---|---|---|---|---|\n",
  );
  for (const [label, list, ratio] of rows) {
    const ms = median(list, "ms");
    const memory =
      list[0]?.anonMiB === undefined ? "-" : `${Math.max(...list.map((r) => r.anonMiB)).toFixed(0)} MiB`;
    process.stdout.write(
      `| ${label} | ${(ms / 1000).toFixed(2)} s | ${speed(ms)} | ${size(median(list, "storedBytes"))} | ${memory} | ${ratio} |\n`,
    );
  }
}
