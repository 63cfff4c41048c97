#!/usr/bin/env node
// Ledger snapshots written while a vault stays open (a server): ingests small files into an open vault
// with a snapshot every `--every` records, against the same ingests with none (`ledgerSnapshotEvery: 0`),
// run after run, and prints the ingest time, its p99, the event loop's delay and each snapshot's capture
// and write times. DIR is a vault kept by `node --expose-gc scripts/bench/vault-index.mjs --keep DIR`
// (DIR/vault, DIR/identity.pem); the ingested items stay in it.
//   node scripts/bench/ledger-snapshot-live.mjs --dir DIR [--every 2000] [--items 3000] [--runs 1]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    every: { type: "string", default: "2000" },
    items: { type: "string", default: "3000" },
    runs: { type: "string", default: "1" },
  },
});
if (values.dir === undefined)
  throw new Error("--dir DIR: a vault kept by scripts/bench/vault-index.mjs --keep");
const { Vault } = await import(join(repo, "packages/vault/dist/index.js"));
const identityPem = readFileSync(join(values.dir, "identity.pem"), "utf8");
const scratch = mkdtempSync(join(tmpdir(), "custody-snapshot-live-"));
let file = 0;

/** Ingests `items` files into the open vault; what it took, with the snapshots it wrote meanwhile. */
async function ingestRun(every) {
  const snapshots = [];
  const note = (fields, message) => {
    if (message === "ledger snapshot written") snapshots.push(fields);
  };
  const logger = {
    info: note,
    warn: (fields, message) => console.error("warn:", message ?? fields),
    error: (fields, message) => console.error("error:", message ?? fields),
    debug: () => {},
    trace: () => {},
    fatal: () => {},
    child: () => logger,
  };
  const vault = await Vault.open({ dir: join(values.dir, "vault"), ledgerSnapshotEvery: every, logger });
  const alice = vault.authenticate(identityPem);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const each = [];
  const started = performance.now();
  for (let i = 0; i < Number(values.items); i += 1) {
    const path = join(scratch, `f${file++}.txt`);
    writeFileSync(path, `snapshot-live ${process.pid} ${Date.now()} ${file}\n`);
    const caseId = `CASE-${String((file * 7919) % 10000).padStart(7, "0")}`;
    const at = performance.now();
    await vault.ingest(alice, path, { caseId, retainDays: 0 });
    each.push(performance.now() - at);
  }
  const ingestMs = performance.now() - started;
  delay.disable();
  const closing = performance.now();
  await vault.close();
  each.sort((a, b) => a - b);
  return {
    ingestMs,
    p99: each[Math.floor(each.length * 0.99)],
    loopP99: delay.percentile(99) / 1e6,
    loopMax: delay.max / 1e6,
    closeMs: performance.now() - closing,
    snapshots,
  };
}

try {
  const every = Number(values.every);
  console.log(
    `${values.items} ingests into an open vault; a snapshot every ${every} records, against none\n`,
  );
  console.log(
    "| snapshots | ingest s | ingest p99 ms | loop delay p99 / max ms | close ms | snapshots: capture / write ms |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | --- |");
  for (let run = 0; run < Number(values.runs); run += 1) {
    for (const each of [every, 0]) {
      const r = await ingestRun(each);
      const written = r.snapshots.map((s) => `${s.captureMs} / ${s.writeMs}`).join(", ") || "none";
      console.log(
        `| ${each === 0 ? "none" : `every ${each}`} | ${(r.ingestMs / 1000).toFixed(1)} | ${r.p99.toFixed(1)} | ${r.loopP99.toFixed(1)} / ${r.loopMax.toFixed(1)} | ${r.closeMs.toFixed(0)} | ${written} |`,
      );
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
