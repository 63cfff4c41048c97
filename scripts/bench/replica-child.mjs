#!/usr/bin/env node
// One replica for scripts/bench/replicas.mjs: opens the vault from its folder over the shared container,
// waits for "go" on stdin, ingests COUNT small files with CALLERS concurrent callers, prints the seconds.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { Vault } = await import(join(repo, "packages/vault/dist/index.js"));
const { AzureBlobEvidenceStore } = await import(join(repo, "packages/azure/dist/index.js"));
const [dir, identity, scratch, name, callersArg, countArg] = process.argv.slice(2);
const store = await AzureBlobEvidenceStore.open({
  connectionString: process.env.CUSTODY_BENCH_AZURE,
  containerName: "bench",
  protection: "library",
});
const vault = await Vault.open({ dir, store });
const me = vault.authenticate(identity);
const count = Number(countArg);
const files = Array.from({ length: count }, (_, i) => {
  const file = join(scratch, `${name}-${i}.txt`);
  writeFileSync(file, `${name} small item ${i}\n`);
  return file;
});
process.stdout.write("ready\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
let next = 0;
const start = performance.now();
await Promise.all(
  Array.from({ length: Number(callersArg) }, async () => {
    while (next < count) await vault.ingest(me, files[next++], { caseId: `BENCH-${name}`, retainDays: 0 });
  }),
);
process.stdout.write(`${(performance.now() - start) / 1000}\n`);
await vault.close();
