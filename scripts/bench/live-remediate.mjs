#!/usr/bin/env node
// `remediate file -auto` end to end: a real agent process runs the fileinfo prerequisite (one hashing
// read), then hashes the file again, announces it, PUTs it over mutual TLS into the vault (stored
// create-only under its digest, audited, a quarantine item of the case), deletes it, and the server
// records the remediation as a fact of the signed log; timed from the submit to the command's result.
// The peer, on the same machine: `cp` the file to a quarantine folder, `sha256sum` the copy, `rm` the
// original. Each run takes a new copy of the file (written before the timer starts, so the page cache
// holds it for both); runs alternate the peer and remediate so a change in load hits both. Uses dist/.
//   node scripts/bench/live-remediate.mjs [--size-mib 100] [--runs 5]
import { execSync, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectedAgent, result } from "./lib/live.mjs";
import { startServerChild, writeRandom } from "./lib/server.mjs";

const { values } = parseArgs({
  options: { "size-mib": { type: "string", default: "100" }, runs: { type: "string", default: "5" } },
});
const sizeMiB = Number(values["size-mib"]);
const runs = Number(values.runs);
const limitBytes = Math.max(750, sizeMiB) * 1024 * 1024;
const base = await mkdtemp(join(tmpdir(), "custody-remediate-bench-"));
const children = [];

async function timed(live, sessionId, line) {
  const start = performance.now();
  const entry = await live.submit(sessionId, line);
  const done = await result(live, entry.id);
  if (done.status !== "completed") throw new Error(`${line}: ${done.status} ${JSON.stringify(done.error)}`);
  return { ms: performance.now() - start, done };
}

function peerOnce(file, quarantine) {
  const start = performance.now();
  for (const [cmd, args] of [
    ["cp", [file, quarantine]],
    ["sha256sum", [quarantine]],
    ["rm", [file]],
  ]) {
    const run = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    if (run.status !== 0) throw new Error(`${cmd} failed`);
  }
  return performance.now() - start;
}

const server = await startServerChild(base, { BENCH_MAX_GETFILE_BYTES: String(limitBytes) });
try {
  const source = join(base, "source.bin");
  await writeRandom(source, sizeMiB);
  const { vault, live, deviceId } = await connectedAgent(server, base, { limitBytes, children });
  await mkdir(join(base, "suspect"));
  await mkdir(join(base, "quarantine"));

  const loads = [execSync("uptime").toString().trim()];
  const rows = [];
  for (let i = 1; i <= runs; i++) {
    const peerFile = join(base, "suspect", `peer-${i}.bin`);
    await copyFile(source, peerFile);
    const peerMs = peerOnce(peerFile, join(base, "quarantine", `peer-${i}.bin`));
    await rm(join(base, "quarantine", `peer-${i}.bin`));
    // each run quarantines into another case (an item is create-only per case)
    const file = join(base, "suspect", `evil-${i}.bin`);
    await copyFile(source, file);
    const session = await live.openSession(deviceId, `BENCH-${i}`);
    const remediate = await timed(live, session.id, `remediate file ${file} -auto`);
    await live.closeSession(session.id);
    rows.push({ peerMs, remediateMs: remediate.ms, itemId: remediate.done.itemId });
  }
  loads.push(execSync("uptime").toString().trim());

  const s = (ms) => (ms / 1000).toFixed(2);
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  console.log(`${sizeMiB} MiB of random bytes, ${runs} runs`);
  console.log(`load before: ${loads[0]}\nload after:  ${loads[1]}\n`);
  console.log("| run | cp + sha256sum + rm, s | remediate file -auto, s | ratio |");
  console.log("| ---: | ---: | ---: | ---: |");
  rows.forEach((r, i) => {
    console.log(
      `| ${i + 1} | ${s(r.peerMs)} | ${s(r.remediateMs)} | ${(r.remediateMs / r.peerMs).toFixed(2)}× |`,
    );
  });
  const ratios = rows.map((r) => r.remediateMs / r.peerMs);
  const peers = rows.map((r) => r.peerMs);
  const remediations = rows.map((r) => r.remediateMs);
  console.log(
    `\npeer median ${s(median(peers))} s; remediate median ${s(median(remediations))} s; ` +
      `remediate / peer: per run median ${median(ratios).toFixed(2)}×, min / min ${(Math.min(...remediations) / Math.min(...peers)).toFixed(2)}× ` +
      `(items ${[...new Set(rows.map((r) => r.itemId))].length} distinct digests: ${[...new Set(rows.map((r) => r.itemId))].join(", ")})`,
  );
  vault.close();
  live.close();
} finally {
  for (const child of children) child.kill("SIGTERM");
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
