#!/usr/bin/env node
// Parallel audit verification vs the one-thread verifier, on the same log in the same run.
// Run after `pnpm exec tsc -b packages/audit` (it uses the built dist/):
//   node --expose-gc scripts/bench/audit-verify.mjs [--records 1000000] [--rounds 3] [--threads N] [--seal]
//     [--against OTHER/packages/audit/dist]
// --against also measures another build's verifyAuditLog (e.g. main's) on the same log, alternating
// with this one in every round, for an A/B in one run.
// The log is written once through the real file sink (group-committed appends, a signed checkpoint
// every 10,000 records), then each round verifies it both ways, alternately. Memory: the process's RSS
// peak above its level before the verification (worker threads included), sampled every 10 ms.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { openFileAuditLog, verifyAuditLog } from "../../packages/audit/dist/index.js";
import { verifyAuditLogSequential } from "../../packages/audit/dist/verify.js";
import { auditEvent, vaultSigner } from "./lib/audit.mjs";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    threads: { type: "string" },
    seal: { type: "boolean", default: false },
    against: { type: "string" },
  },
});
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);
const threads = values.threads === undefined ? {} : { threads: Number(values.threads) };
const sealKey = values.seal ? randomBytes(32) : undefined;
const against =
  values.against === undefined
    ? undefined
    : (await import(pathToFileURL(join(resolve(values.against), "index.js")).href)).verifyAuditLog;

const base = await mkdtemp(join(tmpdir(), "custody-audit-verify-bench-"));
const { signer, trust } = await vaultSigner();

let n = 0;
const event = () => auditEvent(n++);

const dir = join(base, "log");
const writeStart = performance.now();
const log = await openFileAuditLog({
  dir,
  signer,
  checkpointEvery: 10_000,
  checkpointIntervalMs: 0,
  ...(sealKey === undefined ? {} : { sealKey }),
});
let left = RECORDS;
await Promise.all(
  Array.from({ length: 1024 }, async () => {
    while (left > 0) {
      left -= 1;
      await log.append(event());
    }
  }),
);
await log.close();
const bytes = (await stat(join(dir, "audit.log"))).size;
console.error(
  `wrote ${RECORDS} records (${(bytes / 1048576).toFixed(0)} MiB) in ${((performance.now() - writeStart) / 1000).toFixed(1)} s`,
);

async function measure(verify) {
  global.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 10);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const report = await verify();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  if (!report.ok || report.records !== RECORDS)
    throw new Error(`verification failed: ${JSON.stringify(report.problem)}`);
  return {
    rate: RECORDS / (ms / 1000),
    cpuMs: (used.user + used.system) / 1000,
    rss: rssPeak - rssBefore,
    root: report.rootHash,
  };
}

const options = { trust, ...(sealKey === undefined ? {} : { sealKey }) };
const runs = { sequential: [], parallel: [], ratio: [], against: [], againstRatio: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  const sequential = await measure(() => verifyAuditLogSequential({ dir }, options));
  const parallel = await measure(() => verifyAuditLog({ dir }, { ...options, ...threads }));
  if (parallel.root !== sequential.root) throw new Error("the two verifiers disagree on the root");
  runs.sequential.push(sequential);
  runs.parallel.push(parallel);
  runs.ratio.push(parallel.rate / sequential.rate);
  if (against !== undefined) {
    const other = await measure(() => against({ dir }, { ...options, ...threads }));
    if (other.root !== sequential.root) throw new Error("the other build disagrees on the root");
    runs.against.push(other);
    runs.againstRatio.push(other.rate / sequential.rate);
  }
}
await rm(base, { recursive: true, force: true });

const median = (list, key) =>
  [...list].map((x) => (key ? x[key] : x)).sort((a, b) => a - b)[Math.floor(list.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString("en-US");
const mib = (x) => `${(x / 1048576).toFixed(0)} MiB`;
const workers = threads.threads ?? Math.min(availableParallelism(), 8);
console.log(
  `| verify ${fmt(RECORDS)} records${sealKey ? " (sealed)" : ""} | records/s (median of ${ROUNDS}) | CPU s | RSS peak growth | vs one thread |`,
);
console.log("|---|---:|---:|---:|---:|");
const rows = [
  ["one thread (`verifyAuditLogSequential`, the peer)", runs.sequential, "1.00x"],
  [
    `parallel (\`verifyAuditLog\`, ${workers} worker threads, ${availableParallelism()} cores)`,
    runs.parallel,
    `${median(runs.ratio).toFixed(2)}x`,
  ],
];
if (against !== undefined) {
  rows.push([
    `parallel, the build in ${values.against}`,
    runs.against,
    `${median(runs.againstRatio).toFixed(2)}x`,
  ]);
}
for (const [name, list, ratio] of rows) {
  console.log(
    `| ${name} | ${fmt(median(list, "rate"))} | ${(median(list, "cpuMs") / 1000).toFixed(1)} | ${mib(median(list, "rss"))} | ${ratio} |`,
  );
}
