#!/usr/bin/env node
// Concurrent callers on one open vault (what a server does): audited small operations per second with
// 1 caller (one at a time, as CLI commands queued on the lock did) and with N callers at once, against
// the machine's raw write+fdatasync of one line (the physical limit of one durable append, one at a
// time). Ingests of small files are measured the same way. Uses the built dist/ (`pnpm exec tsc -b`).
//   node scripts/bench/vault-concurrency.mjs [--callers 64] [--ops 2000] [--ingests 400] [--rounds 3]
import { closeSync, fdatasyncSync, openSync, writeFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const dist = (pkg) => new URL(`../../packages/${pkg}/dist/index.js`, import.meta.url).href;
const { values } = parseArgs({
  options: {
    callers: { type: "string", default: "64" },
    ops: { type: "string", default: "2000" },
    ingests: { type: "string", default: "400" },
    rounds: { type: "string", default: "3" },
  },
});
const CALLERS = Number(values.callers);
const OPS = Number(values.ops);
const INGESTS = Number(values.ingests);
const ROUNDS = Number(values.rounds);
const { Vault } = await import(dist("vault"));

const perSecond = (count, ms) => count / (ms / 1000);
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

function raw(count, file) {
  const line = Buffer.from(`${JSON.stringify({ action: "evidence.list", pad: "x".repeat(400) })}\n`);
  const fd = openSync(file, "a");
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    writeSync(fd, line);
    fdatasyncSync(fd);
  }
  const ms = performance.now() - start;
  closeSync(fd);
  return perSecond(count, ms);
}

async function callers(total, concurrency, operation) {
  let next = 0;
  const worker = async () => {
    while (next < total) await operation(next++);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return perSecond(total, performance.now() - start);
}

const base = await mkdtemp(join(tmpdir(), "custody-vault-conc-bench-"));
try {
  const { vault, identityPem } = await Vault.init(join(base, "vault"), { custodian: "bench", keyBits: 2048 });
  const me = vault.authenticate(identityPem);
  const seed = join(base, "seed.txt");
  writeFileSync(seed, "seed\n");
  const item = await vault.ingest(me, seed, { caseId: "BENCH", retainDays: 0 });
  const files = [];
  for (let i = 0; i < INGESTS * 2 * ROUNDS; i += 1) {
    const file = join(base, `small-${i}.txt`);
    writeFileSync(file, `small item ${i}\n`);
    files.push(file);
  }
  let fileIndex = 0;
  const result = { raw: [], show1: [], showN: [], ingest1: [], ingestN: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    result.raw.push(raw(Math.max(50, OPS / 10), join(base, "raw.log")));
    result.show1.push(await callers(OPS / 10, 1, () => vault.show(me, item.id)));
    result.showN.push(await callers(OPS, CALLERS, () => vault.show(me, item.id)));
    const ingest = () => vault.ingest(me, files[fileIndex++], { caseId: "BENCH", retainDays: 0 });
    result.ingest1.push(await callers(INGESTS / 4, 1, ingest));
    result.ingestN.push(await callers(INGESTS, CALLERS, ingest));
  }
  await vault.close();
  const rawRate = median(result.raw);
  const row = (name, list, records) => {
    const rate = median(list);
    return `| ${name} | ${Math.round(rate).toLocaleString("en")} | ${Math.round(rate * records).toLocaleString("en")} | ${((rate * records) / rawRate).toFixed(1)}x |`;
  };
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}; medians of ${ROUNDS} rounds`,
  );
  console.log("| operation | ops/s | audit records/s | records vs raw |");
  console.log("|---|---|---|---|");
  console.log(
    `| raw write+fdatasync, one line at a time (peer) | ${Math.round(rawRate).toLocaleString("en")} | ${Math.round(rawRate).toLocaleString("en")} | 1.0x |`,
  );
  console.log(row("`show`, 1 caller", result.show1, 1));
  console.log(row(`\`show\`, ${CALLERS} callers`, result.showN, 1));
  console.log(row("ingest of a small file, 1 caller", result.ingest1, 2));
  console.log(row(`ingest of a small file, ${CALLERS} callers`, result.ingestN, 2));
} finally {
  await rm(base, { recursive: true, force: true });
}
