#!/usr/bin/env node
// Vault replicas sharing one Azure container (Azurite here): ingests of small files per second by one
// replica alone (no contention on the shared audit log) and by three replicas at once (every append
// races the two others). The peer is Azurite's own rate of conditional one-line appends to one append
// blob from one client, one at a time: what a single durable record costs on that service.
// Uses the built dist/ (`pnpm exec tsc -b`).
//   node scripts/bench/replicas.mjs [--callers 8] [--count 150]
import { spawn } from "node:child_process";
import { cpSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { values } = parseArgs({
  options: { callers: { type: "string", default: "8" }, count: { type: "string", default: "150" } },
});
const CALLERS = Number(values.callers);
const COUNT = Number(values.count);
const { Vault } = await import(join(repo, "packages/vault/dist/index.js"));
const { AzureBlobEvidenceStore } = await import(join(repo, "packages/azure/dist/index.js"));
const { BlobServiceClient } = await import(
  join(repo, "packages/azure/node_modules/@azure/storage-blob/dist/esm/index.js")
);
// The well-known Azurite development key (public, documented by Microsoft; not a secret).
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

async function startAzurite(cwd) {
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
  const args = ["--blobHost", "127.0.0.1", "--blobPort", String(port), "--inMemoryPersistence"];
  const child = spawn(
    join(repo, "node_modules/.bin/azurite-blob"),
    [...args, "--skipApiVersionCheck", "--silent"],
    {
      cwd,
      stdio: "ignore",
    },
  );
  for (let up = false; !up; ) {
    up = await new Promise((r) => {
      request({ host: "127.0.0.1", port, path: "/" }, (res) => r(res.resume() && true))
        .on("error", () => setTimeout(() => r(false), 100))
        .end();
    });
  }
  const endpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
  return {
    conn: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=${endpoint};`,
    stop: () => child.kill("SIGKILL"),
  };
}

function startReplica(azurite, dir, identity, scratch, name, count) {
  const child = spawn(
    process.execPath,
    [
      join(repo, "scripts/bench/replica-child.mjs"),
      dir,
      identity,
      scratch,
      name,
      String(CALLERS),
      String(count),
    ],
    { env: { ...process.env, CUSTODY_BENCH_AZURE: azurite.conn }, stdio: ["pipe", "pipe", "inherit"] },
  );
  let out = "";
  const ready = new Promise((resolve) =>
    child.stdout.setEncoding("utf8").on("data", (text) => {
      out += text;
      if (out.startsWith("ready\n")) resolve();
    }),
  );
  const seconds = new Promise((resolve, reject) =>
    child.once("exit", (code) =>
      code === 0 ? resolve(Number(out.split("\n")[1])) : reject(new Error(`exit ${code}`)),
    ),
  );
  return { ready, go: () => child.stdin.end("go\n"), seconds };
}

async function peerAppendsPerSecond(azurite, n) {
  const blob = BlobServiceClient.fromConnectionString(azurite.conn)
    .getContainerClient("bench")
    .getAppendBlobClient("peer.jsonl");
  await blob.create();
  const line = `${JSON.stringify({ action: "evidence.ingest", pad: "x".repeat(600) })}\n`;
  const start = performance.now();
  for (let i = 0; i < n; i += 1) {
    await blob.appendBlock(line, line.length, { conditions: { appendPosition: i * line.length } });
  }
  return n / ((performance.now() - start) / 1000);
}

const base = await mkdtemp(join(tmpdir(), "custody-replicas-bench-"));
const azurite = await startAzurite(base);
try {
  const store = await AzureBlobEvidenceStore.open({
    connectionString: azurite.conn,
    containerName: "bench",
    createContainer: true,
    protection: "library",
  });
  const dir0 = join(base, "replica-0");
  const created = await Vault.init(dir0, {
    custodian: "bench",
    keyBits: 2048,
    store: { kind: "azure", container: "bench", connectionStringEnv: "CUSTODY_BENCH_AZURE" },
    openStore: store,
  });
  await created.vault.close();
  for (const n of [1, 2, 3]) cpSync(dir0, join(base, `replica-${n}`), { recursive: true });
  const peer = await peerAppendsPerSecond(azurite, 300);
  const alone = startReplica(azurite, join(base, "replica-1"), created.identityPem, base, "alone", COUNT);
  await alone.ready;
  alone.go();
  const aloneRate = COUNT / (await alone.seconds);
  const three = [1, 2, 3].map((n) =>
    startReplica(azurite, join(base, `replica-${n}`), created.identityPem, base, `r${n}`, COUNT),
  );
  await Promise.all(three.map((r) => r.ready));
  const start = performance.now();
  for (const r of three) r.go();
  await Promise.all(three.map((r) => r.seconds));
  const threeRate = (3 * COUNT) / ((performance.now() - start) / 1000);
  const fmt = (n) => Math.round(n).toLocaleString("en");
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}; ${CALLERS} callers per replica`,
  );
  console.log("| run | ingests/s | audit records/s (2 per ingest) | records vs peer |");
  console.log("|---|---|---|---|");
  console.log(`| peer: one client, conditional 1-line appends to one append blob | | ${fmt(peer)} | 1.0x |`);
  console.log(
    `| one replica alone (no contention on the log) | ${fmt(aloneRate)} | ${fmt(aloneRate * 2)} | ${((aloneRate * 2) / peer).toFixed(1)}x |`,
  );
  console.log(
    `| three replicas at once (contention on the log) | ${fmt(threeRate)} | ${fmt(threeRate * 2)} | ${((threeRate * 2) / peer).toFixed(1)}x |`,
  );
} finally {
  azurite.stop();
  await rm(base, { recursive: true, force: true });
}
