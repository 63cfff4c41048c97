#!/usr/bin/env node
// Ingest benchmark: a 1 GiB investigation package into a vault (verify + store + audit) against
// `cp` followed by `openssl dgst -sha256` on the same file. Uses the built dist/.
//   node scripts/bench/vault.mjs [--size-mib 1024] [--runs 2]
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";

const dist = (pkg) => new URL(`../../packages/${pkg}/dist/index.js`, import.meta.url).href;
const { values } = parseArgs({
  options: { "size-mib": { type: "string", default: "1024" }, runs: { type: "string", default: "2" } },
});
const sizeMiB = Number(values["size-mib"]);
const runs = Number(values.runs);
const { Vault } = await import(dist("vault"));
const { createPackageWriter } = await import(dist("archive"));

const base = await mkdtemp(join(tmpdir(), "custody-vault-bench-"));
try {
  const { vault, identityPem } = await Vault.init(join(base, "vault"), { custodian: "bench", keyBits: 2048 });
  const principal = vault.authenticate(identityPem);
  const pkg = join(base, "big.zip");
  await writePackage(pkg, await vault.collectorSigner());
  spawnSync("cat", [pkg], { stdio: ["ignore", "ignore", "inherit"] });
  const peer = best(runs, () => {
    const copy = join(base, `copy-${Math.random()}`);
    const start = performance.now();
    spawnSync("cp", [pkg, copy]);
    spawnSync("openssl", ["dgst", "-sha256", copy], { stdio: "ignore" });
    const ms = performance.now() - start;
    spawnSync("rm", ["-f", copy]);
    return ms;
  });
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const ours = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    await vault
      .ingest(principal, pkg, { caseId: `bench-${run}`, retainDays: 0, kind: "package" })
      .catch((error) => {
        if (error.code !== "ERR_ALREADY_EXISTS") throw error;
      });
    ours.push(performance.now() - start);
    if (run === 0) break; // content-addressed: the same bytes are stored once; one timed ingest
  }
  clearInterval(sampler);
  await vault.close();
  const oursMs = Math.min(...ours);
  console.log(
    `| work (${sizeMiB} MiB package) | ours | cp + openssl dgst -sha256 | ratio (target ≤ 1.5) | our peak RSS |`,
  );
  console.log("|---|---|---|---|---|");
  console.log(
    `| ingest: verify + store + audit | ${oursMs.toFixed(0)} ms | ${peer.toFixed(0)} ms | ${(oursMs / peer).toFixed(2)} | ${(peakRss / 2 ** 20).toFixed(0)} MiB |`,
  );
} finally {
  await rm(base, { recursive: true, force: true });
}

async function writePackage(file, signer) {
  const writer = createPackageWriter(file, {
    name: "bench",
    device: { id: "bench-host" },
    collector: { operator: "bench", tool: "bench", toolVersion: "0", host: "bench" },
    signer,
  });
  let left = sizeMiB;
  const body = Readable.from(
    (function* () {
      while (left-- > 0) yield randomFillSync(Buffer.allocUnsafe(1 << 20));
    })(),
  );
  await writer.addStream("Memory/image.bin", body, { source: "generated" });
  await writer.finalize();
}

function best(times, fn) {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < times; i++) min = Math.min(min, fn());
  return min;
}
