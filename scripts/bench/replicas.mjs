#!/usr/bin/env node
// Vault replicas sharing one Azure container (Azurite here): ingests of small files per second by one
// replica alone (no contention on the shared audit log) and by three replicas at once (every append
// races the two others). The peer is Azurite's own rate of conditional one-line appends to one append
// blob from one client, one at a time: what a single durable record costs on that service.
// --served adds the same two runs through `custody serve` processes (the built CLI), one per replica folder,
// with every caller a @custody/client of its own (mutual TLS, keep-alive) in this process.
// Uses the built dist/ (`pnpm exec tsc -b`).
//   node scripts/bench/replicas.mjs [--callers 8] [--count 150] [--served]
import { spawn } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { values } = parseArgs({
  options: {
    callers: { type: "string", default: "8" },
    count: { type: "string", default: "150" },
    served: { type: "boolean", default: false },
  },
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

/** `custody serve` on one replica folder, on a free port; resolves with its URL once it listens. */
function startServe(azurite, dir) {
  const child = spawn(
    process.execPath,
    [join(repo, "packages/cli/dist/bin.js"), "serve", "--vault", dir, "--listen", "127.0.0.1:0"],
    {
      env: { ...process.env, CUSTODY_BENCH_AZURE: azurite.conn, CUSTODY_LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (text) => {
      err += text;
      const url = /listening on (https:\/\/\S+?),? /.exec(err)?.[1];
      const stop = () => {
        child.kill("SIGTERM");
        return exited;
      };
      if (url !== undefined) resolve({ url, stop });
    });
    exited.then((code) => reject(new Error(`custody serve exited ${code}: ${err}`)));
  });
}

/** CALLERS clients per server ingest `count` small files each server's share; resolves with the seconds. */
async function servedIngests(servers, identityPem, caPem, scratch, name, count) {
  const { createVaultClient } = await import(join(repo, "packages/client/dist/index.js"));
  const runs = servers.map((server, s) => {
    const files = Array.from({ length: count }, (_, i) => {
      const file = join(scratch, `${name}-${s}-${i}.txt`);
      writeFileSync(file, `${name} server ${s} small item ${i}\n`);
      return file;
    });
    const clients = Array.from({ length: CALLERS }, () =>
      createVaultClient({ baseUrl: server.url, identityPem, caPem }),
    );
    return { files, clients };
  });
  const start = performance.now();
  await Promise.all(
    runs.map(async ({ files, clients }, s) => {
      let next = 0;
      await Promise.all(
        clients.map(async (client) => {
          while (next < count)
            await client.ingest(files[next++], { caseId: `SERVED-${name}-${s}`, retainDays: 0 });
        }),
      );
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const { clients } of runs) for (const client of clients) client.close();
  return seconds;
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
  let served;
  if (values.served) {
    const caPem = readFileSync(join(dir0, "pki", "ca.pem"), "utf8");
    const one = [await startServe(azurite, join(base, "replica-1"))];
    const aloneSeconds = await servedIngests(one, created.identityPem, caPem, base, "served-alone", COUNT);
    await one[0].stop();
    const servers = await Promise.all([1, 2, 3].map((n) => startServe(azurite, join(base, `replica-${n}`))));
    const threeSeconds = await servedIngests(
      servers,
      created.identityPem,
      caPem,
      base,
      "served-three",
      COUNT,
    );
    await Promise.all(servers.map((server) => server.stop()));
    served = { alone: COUNT / aloneSeconds, three: (3 * COUNT) / threeSeconds };
  }
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
  if (served !== undefined) {
    console.log(
      `| one custody serve alone, ${CALLERS} clients (no contention) | ${fmt(served.alone)} | ${fmt(served.alone * 2)} | ${((served.alone * 2) / peer).toFixed(1)}x |`,
    );
    console.log(
      `| three custody serve replicas, ${CALLERS} clients each (contention) | ${fmt(served.three)} | ${fmt(served.three * 2)} | ${((served.three * 2) / peer).toFixed(1)}x |`,
    );
  }
} finally {
  azurite.stop();
  await rm(base, { recursive: true, force: true });
}
