#!/usr/bin/env node
// Audit log benchmark. Run after `pnpm exec tsc -b packages/audit` (it uses the built dist/):
//   node scripts/bench/audit.mjs [--records 1000000]
// Prints the machine's raw write+fdatasync rate of one line (the physical limit of a durable append)
// next to sequential durable appends, 64 concurrent appenders (group commit), and verification.
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openFileAuditLog, verifyAuditLog } from "../../packages/audit/dist/index.js";
import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
} from "../../packages/manifest/dist/index.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    sequential: { type: "string", default: "3000" },
    concurrent: { type: "string", default: "200000" },
  },
});
const VERIFY_RECORDS = Number(values.records);
const SEQUENTIAL = Number(values.sequential);
const CONCURRENT = Number(values.concurrent);

const base = await mkdtemp(join(tmpdir(), "custody-audit-bench-"));
const ca = await createCertificateAuthority({ commonName: "Bench CA", keyBits: 2048 });
const leaf = await issueCertificate(ca, { commonName: "vault", usage: "signer", keyBits: 2048 });
const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
const trust = { trustAnchors: [ca.certificatePem] };

let n = 0;
const event = () => ({
  actor: "alice@example.org",
  action: "item.read",
  target: `case-2026-001/item-${n++}`,
  outcome: "allow",
  reason: "grant g-17: investigator on case-2026-001",
  details: { sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", bytes: 1048576 },
});
const rate = (count, ms) => Math.round(count / (ms / 1000));
const rows = [];

// 1. The physical limit: write + fdatasync of one record-sized line, synchronously.
{
  const line = Buffer.from(`${JSON.stringify({ ...event(), pad: "x".repeat(180) })}\n`);
  const fd = openSync(join(base, "raw.log"), "a");
  const start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i += 1) {
    writeSync(fd, line);
    fdatasyncSync(fd);
  }
  const ms = performance.now() - start;
  closeSync(fd);
  rows.push({
    what: "raw write+fdatasync, one line (peer)",
    records: SEQUENTIAL,
    perSecond: rate(SEQUENTIAL, ms),
  });
}
const raw = rows[0].perSecond;

// 2. Sequential durable appends: each awaited before the next.
{
  const log = await openFileAuditLog({ dir: join(base, "sequential"), signer, checkpointIntervalMs: 0 });
  const start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i += 1) await log.append(event());
  const ms = performance.now() - start;
  await log.close();
  rows.push({ what: "sequential durable appends", records: SEQUENTIAL, perSecond: rate(SEQUENTIAL, ms) });
}

// 3. 64 concurrent appenders: group commit shares each write+sync among the waiting records.
{
  const log = await openFileAuditLog({ dir: join(base, "concurrent"), signer, checkpointIntervalMs: 0 });
  let left = CONCURRENT;
  const worker = async () => {
    while (left > 0) {
      left -= 1;
      await log.append(event());
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: 64 }, worker));
  const ms = performance.now() - start;
  await log.close();
  rows.push({
    what: "64 concurrent appenders (group commit)",
    records: CONCURRENT,
    perSecond: rate(CONCURRENT, ms),
  });
}

// 4. Verification of a large log: streaming, flat memory.
{
  const dir = join(base, "verify");
  const log = await openFileAuditLog({ dir, signer, checkpointEvery: 10_000, checkpointIntervalMs: 0 });
  let left = VERIFY_RECORDS;
  const worker = async () => {
    while (left > 0) {
      left -= 1;
      await log.append(event());
    }
  };
  await Promise.all(Array.from({ length: 1024 }, worker));
  await log.close();
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 20);
  const start = performance.now();
  const report = await verifyAuditLog({ dir }, { trust });
  const ms = performance.now() - start;
  clearInterval(sampler);
  if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.problem)}`);
  rows.push({
    what: `verify (${report.checkpoints} signed checkpoints)`,
    records: report.records,
    perSecond: rate(report.records, ms),
    note: `RSS ${mb(rssBefore)} -> peak ${mb(rssPeak)} MiB`,
  });
}

function mb(bytes) {
  return Math.round(bytes / 1048576);
}

await rm(base, { recursive: true, force: true });
console.log(`| work | records | records/s | vs raw fdatasync | note |`);
console.log(`|---|---:|---:|---:|---|`);
for (const row of rows) {
  const ratio = (row.perSecond / raw).toFixed(2);
  console.log(`| ${row.what} | ${row.records} | ${row.perSecond} | ${ratio}x | ${row.note ?? ""} |`);
}
