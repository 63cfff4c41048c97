#!/usr/bin/env node
// Ingest benchmark, whole CLI process: `custody ingest` of a signed investigation package (one
// incompressible entry) into a fresh fs vault, against `cp` followed by `openssl dgst -sha256` of the
// same page-cached file, interleaved run by run. Prints min and median of each and their ratio.
//   node scripts/bench/ingest.mjs [--size-mib 1024] [--runs 3] [--dir /tmp]
import { execFileSync, spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const dist = (pkg) => join(repo, `packages/${pkg}/dist/index.js`);
const cli = join(repo, "packages/cli/dist/bin.js");
const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "/tmp" },
  },
});
const sizeMiB = Number(values["size-mib"]);
const runs = Number(values.runs);
const { Vault } = await import(dist("vault"));
const { createPackageWriter } = await import(dist("archive"));

const base = await mkdtemp(join(values.dir, "custody-ingest-bench-"));
try {
  const pkg = join(base, "big.zip");
  {
    // the package is signed by a vault's collector; every run's fresh vault is a copy of this one
    const { vault, identityPem } = await Vault.init(join(base, "template"), {
      custodian: "bench",
      keyBits: 2048,
    });
    const use = { caseId: "BENCH", target: "case:BENCH" };
    await vault.withCollector(vault.authenticate(identityPem), use, (signer) => writePackage(pkg, signer));
    await writeFile(join(base, "bench.pem"), identityPem, { mode: 0o600 });
    await vault.close();
  }
  spawnSync("cat", [pkg], { stdio: ["ignore", "ignore", "inherit"] });
  const peer = [];
  const ours = [];
  for (let run = 0; run < runs; run++) {
    const copy = join(base, "copy.bin");
    // Nothing dirty or freed left from the run before: its writeback, or the discard of the blocks it
    // freed (`discard` mounts), would land in this one's time.
    settle();
    peer.push(
      timed(() => {
        execFileSync("cp", [pkg, copy]);
        execFileSync("openssl", ["dgst", "-sha256", copy], { stdio: "ignore" });
      }),
    );
    execFileSync("rm", ["-f", copy]);
    const vaultDir = join(base, `vault-${run}`);
    execFileSync("cp", ["-a", join(base, "template"), vaultDir]);
    settle();
    ours.push(
      timed(() => {
        const child = spawnSync(
          process.execPath,
          [
            cli,
            "ingest",
            pkg,
            "--vault",
            vaultDir,
            "--identity",
            join(base, "bench.pem"),
            "--case",
            "BENCH",
            "--retain-days",
            "0",
          ],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        if (child.status !== 0) throw new Error(`custody ingest failed: ${child.stderr}`);
      }),
    );
    await rm(vaultDir, { recursive: true, force: true });
  }
  const min = (xs) => Math.min(...xs);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `${sizeMiB} MiB signed package, ${runs} runs each, interleaved; load: ${execFileSync("uptime").toString().trim()}\n`,
  );
  console.log("| work | min ms | median ms |\n| --- | ---: | ---: |");
  console.log(`| cp + openssl dgst -sha256 (peer) | ${min(peer).toFixed(0)} | ${median(peer).toFixed(0)} |`);
  console.log(
    `| custody ingest (whole CLI process: verify, digests, durable store, audit) | ${min(ours).toFixed(0)} | ${median(ours).toFixed(0)} |`,
  );
  console.log(
    `\ncustody / peer: min ${(min(ours) / min(peer)).toFixed(2)}×, median ${(median(ours) / median(peer)).toFixed(2)}×`,
  );
} finally {
  await rm(base, { recursive: true, force: true });
}

function settle() {
  execFileSync("sync");
  execFileSync("sleep", ["1"]);
}

function timed(fn) {
  const start = performance.now();
  fn();
  return performance.now() - start;
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
