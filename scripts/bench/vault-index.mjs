#!/usr/bin/env node
// A vault of many items: how long it takes to open, and `list --case` (100 items) with the item index
// vs without it (the listing as it was before the index: every ledger item filtered, every stored item
// listed). Run after `pnpm run build`:
//   node --expose-gc scripts/bench/vault-index.mjs [--items 1000000] [--per-case 100] [--keep DIR] [--peer /work/main]
// Building: the vault is made by Vault.init and one real ingest (the record template); then, with the
// vault closed, each item is stored through the fs store's own create (create-only, fsynced) and
// stated through the vault's own audit log (its signer, seal key and checkpoints), two records per
// item as an ingest writes them (the decision, then the evidence.ingested fact). The result opens,
// lists and checks like any vault (`custody audit verify` and `custody check` accept it).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { itemRecordSha256, openFileAuditLog } from "../../packages/audit/dist/index.js";
import { createKeySigner } from "../../packages/manifest/dist/index.js";
import { FsEvidenceStore } from "../../packages/store/dist/index.js";
import { Vault } from "../../packages/vault/dist/index.js";
import { encodeItemRecord, itemKey, RECORD_METADATA_KEY } from "../../packages/vault/dist/items.js";
import { loadVaultPki } from "../../packages/vault/dist/pki.js";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "1000000" },
    "per-case": { type: "string", default: "100" },
    keep: { type: "string" },
    rounds: { type: "string", default: "5" },
    peer: { type: "string" },
  },
});
const ITEMS = Number(values.items);
const PER_CASE = Number(values["per-case"]);
const ROUNDS = Number(values.rounds);
const work = values.keep ?? (await mkdtemp(join(tmpdir(), "custody-index-bench-")));
const dir = join(work, "vault");
const fmt = (x) => Math.round(x).toLocaleString("en-US");
const mib = (x) => `${(x / 1048576).toFixed(0)} MiB`;
const log = (...args) => console.error(new Date().toISOString().slice(11, 19), ...args);

async function build() {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  const alice = created.vault.authenticate(created.identityPem);
  const sample = join(work, "sample.txt");
  await (await import("node:fs/promises")).writeFile(sample, "template\n");
  const template = await created.vault.ingest(alice, sample, { caseId: "TEMPLATE" });
  await created.vault.close();
  await (await import("node:fs/promises")).writeFile(join(work, "identity.pem"), created.identityPem);

  const config = JSON.parse(await readFile(join(dir, "vault.json"), "utf8"));
  const pki = await loadVaultPki(dir);
  const [files] = [...pki.signers.values()];
  const signer = createKeySigner({ keyPem: files.keyPem, certificatePem: files.certificatePem });
  const store = await FsEvidenceStore.open(join(dir, config.store.dir));
  const audit = await openFileAuditLog({
    dir: join(dir, "audit"),
    signer,
    sealKey: pki.sealKey,
    checkpointEvery: config.checkpointEvery,
    checkpointIntervalMs: 0,
    ...(config.witness === undefined ? {} : {}),
  });
  const { storedAt: _s, legalHold: _h, retainUntil, ...base } = template;
  let next = 0;
  const started = performance.now();
  const one = async (i) => {
    const bytes = Buffer.from(`item ${i} of the index benchmark\n`);
    const id = createHash("sha256").update(bytes).digest("hex");
    const caseId = `CASE-${String(Math.floor(i / PER_CASE)).padStart(7, "0")}`;
    const record = {
      ...base,
      id,
      caseId,
      name: `item-${i}.txt`,
      size: bytes.length,
      labels: { host: `ws-${i % 1000}` },
      digests: { sha256: id },
    };
    const until = retainUntil === undefined ? undefined : new Date(retainUntil);
    await store.create(itemKey(caseId, id), Readable.from([bytes]), {
      expectedSha256: id,
      ...(until === undefined ? {} : { retainUntil: until }),
      legalHold: false,
      metadata: { [RECORD_METADATA_KEY]: encodeItemRecord(record) },
    });
    const target = `item:${caseId}/${id}`;
    await Promise.all([
      audit.append({
        actor: "alice",
        action: "evidence.ingest",
        target,
        outcome: "allow",
        reason: "custodian",
        details: { size: bytes.length, sha256: id, kind: "file", caseId },
      }),
      audit.append({
        actor: "alice",
        action: "evidence.ingested",
        target,
        outcome: "allow",
        reason: `${record.name} stored in case ${caseId}`,
        details: {
          record,
          recordSha256: itemRecordSha256(record),
          legalHold: false,
          ...(retainUntil === undefined ? {} : { retainUntil }),
        },
      }),
    ]);
  };
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (next < ITEMS) {
        const i = next;
        next += 1;
        await one(i);
        if (i > 0 && i % 50_000 === 0)
          log(`${i} items, ${fmt(i / ((performance.now() - started) / 1000))}/s`);
      }
    }),
  );
  await audit.close();
  await store.close?.();
  log(`built ${ITEMS} items in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

if (values.keep === undefined || !(await import("node:fs")).existsSync(dir)) await build();
const identityPem = await readFile(join(work, "identity.pem"), "utf8");

// The first open after the build reads the whole log and catches the index up with every fact (as
// after `index rebuild`, or an upgrade); its close writes the ledger snapshot. The second goes on from
// the snapshot: only the records after it are read.
let start = performance.now();
const first = await Vault.open({ dir });
const firstOpenMs = performance.now() - start;
start = performance.now();
await first.close();
const firstCloseMs = performance.now() - start;
// what the open from the snapshot adds, over what this process held after the first open was closed
global.gc?.();
const rss0 = process.memoryUsage.rss();
start = performance.now();
const vault = await Vault.open({ dir });
const openMs = performance.now() - start;
global.gc?.();
const openRss = process.memoryUsage.rss() - rss0;
const alice = vault.authenticate(identityPem);
const caseOf = (k) => `CASE-${String(Math.floor(((k * 7919) % ITEMS) / PER_CASE)).padStart(7, "0")}`;

const withIndex = [];
for (let k = 0; k < ROUNDS; k += 1) {
  start = performance.now();
  const listed = await vault.list(alice, { caseId: caseOf(k) });
  withIndex.push(performance.now() - start);
  if (listed.length !== PER_CASE) throw new Error(`listed ${listed.length} items, expected ${PER_CASE}`);
}
global.gc?.();
const afterListRss = process.memoryUsage.rss() - rss0;
console.log(`vault of ${fmt(ITEMS)} items (${fmt(ITEMS * 2)}+ audit records), ${PER_CASE} per case`);
console.log("| work | time | RSS growth |");
console.log("|---|---:|---:|");
console.log(
  `| first open of this run (after the build: the whole log read, the index built from every fact; with --keep, from the snapshot) | ${(firstOpenMs / 1000).toFixed(1)} s | |`,
);
console.log(`| its close (the ledger snapshot written when due) | ${(firstCloseMs / 1000).toFixed(1)} s | |`);
console.log(
  `| open: from the ledger snapshot, the index current | ${(openMs / 1000).toFixed(2)} s | ${mib(openRss)} |`,
);
const median = (l) => [...l].sort((a, b) => a - b)[Math.floor(l.length / 2)];
console.log(
  `| list --case (${PER_CASE} items), with the index, median of ${ROUNDS} | ${median(withIndex).toFixed(1)} ms | ${mib(afterListRss)} |`,
);
await vault.close();
// A close that writes the next snapshot (as the command crossing the 10,000-record mark does): opened
// from the snapshot, one listing, closed with a snapshot due at once.
const next = await Vault.open({ dir, ledgerSnapshotEvery: 1 });
await next.list(next.authenticate(identityPem), { caseId: caseOf(ROUNDS + 1) });
start = performance.now();
await next.close();
console.log(
  `| a close writing the next snapshot (the buckets no fact read are copied) | ${((performance.now() - start) / 1000).toFixed(1)} s | |`,
);
// The command as a user runs it: a whole `custody list --case` process (wall time, max RSS).
const cli = join(import.meta.dirname, "../../packages/cli/dist/bin.js");
const args = [
  "list",
  "--case",
  caseOf(ROUNDS),
  "--vault",
  dir,
  "--identity",
  join(work, "identity.pem"),
  "--json",
];
const processRuns = [];
for (let k = 0; k < 3; k += 1) {
  const run = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, cli, ...args], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`custody list failed: ${run.stderr}`);
  const [wall, maxKib] = (run.stderr.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
  processRuns.push({ wall, maxKib });
}
const processMedian = median(processRuns.map((r) => r.wall));
const processRss = median(processRuns.map((r) => r.maxKib));
console.log(
  `| \`custody list --case\` as a process, median of 3 | ${(processMedian * 1000).toFixed(0)} ms | ${mib(processRss * 1024)} max RSS |`,
);
if (values.peer !== undefined) {
  // The same vault through the listing code without the index (e.g. --peer /work/main: that checkout's
  // build lists every ledger item and every stored item), in the same run.
  const peer = await import(join(values.peer, "packages/vault/dist/index.js"));
  start = performance.now();
  const old = await peer.Vault.open({ dir });
  const peerOpenMs = performance.now() - start;
  const peerAlice = old.authenticate(identityPem);
  const without = [];
  for (let k = 0; k < Math.min(ROUNDS, 3); k += 1) {
    start = performance.now();
    const listed = await old.list(peerAlice, { caseId: caseOf(k) });
    without.push(performance.now() - start);
    if (listed.length !== PER_CASE) throw new Error(`the peer listed ${listed.length} items`);
  }
  await old.close();
  console.log(`| peer open (${values.peer}) | ${(peerOpenMs / 1000).toFixed(1)} s | |`);
  console.log(
    `| peer list --case without the index, median of ${without.length} | ${median(without).toFixed(0)} ms | |`,
  );
  console.log(
    `| list --case: without / with the index | ${(median(without) / median(withIndex)).toFixed(0)}x | |`,
  );
}
if (values.keep === undefined) await rm(work, { recursive: true, force: true });
