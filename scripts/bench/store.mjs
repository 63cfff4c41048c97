#!/usr/bin/env node
// Store benchmark: custody's fs and Azure backends against their peers, measured in the same run.
//   pnpm exec tsc -b packages/store packages/azure && node scripts/bench/store.mjs [--fs-mib 1024] [--azure-mib 256] [--peak-mib 4096] [--runs 3] [--only fs|azure] [--dir /tmp]
// Peers: `cp` followed by `openssl dgst -sha256` (fs), a plain @azure/storage-blob uploadFile without hashing (Azure).
// Azure: every round runs the five uploads in a rotated order, deletes each blob after it (Azurite keeps
// blobs in memory; a growing heap slowed whichever upload came last) and records the CPU seconds of this
// process and of Azurite, which load on a shared machine disturbs less than the wall clock.
// Peak memory is measured in a child process per backend (maxRSS) while a generated object streams in.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { values } = parseArgs({
  options: {
    "fs-mib": { type: "string", default: "1024" },
    "azure-mib": { type: "string", default: "256" },
    "peak-mib": { type: "string", default: "4096" },
    runs: { type: "string", default: "3" },
    only: { type: "string" }, // "fs" | "azure": one backend, no peak-memory children
    dir: { type: "string", default: tmpdir() },
    peak: { type: "string" }, // internal: child mode "fs" | "azure"
    conn: { type: "string" },
  },
});
const MiB = 1024 * 1024;
const ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const store = () => import(join(repo, "packages/store/dist/index.js"));
const azure = () => import(join(repo, "packages/azure/dist/index.js"));
const blobSdk = () => import(join(repo, "packages/azure/node_modules/@azure/storage-blob/dist/esm/index.js"));

function generated(bytes) {
  const block = randomBytes(MiB);
  let left = bytes;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(MiB, left);
      left -= n;
      this.push(block.subarray(0, n));
    },
  });
}

async function time(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** User + system CPU seconds of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks). */
function processCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

/** Wall ms, and CPU seconds of this process (`client`) and of the server process, for one call. */
async function timeCpu(serverPid, fn) {
  const server0 = processCpuSeconds(serverPid);
  const cpu0 = process.cpuUsage();
  const ms = await time(fn);
  const cpu = process.cpuUsage(cpu0);
  return { ms, client: (cpu.user + cpu.system) / 1e6, server: processCpuSeconds(serverPid) - server0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs) => ({ min: Math.min(...xs), median: median(xs) });

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startAzurite() {
  const port = await freePort();
  const cwd = await mkdtemp(join(tmpdir(), "bench-azurite-"));
  const args = [
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    String(port),
    "--inMemoryPersistence",
    "--skipApiVersionCheck",
    "--disableTelemetry",
    "--silent",
  ];
  // The bin script execs node, so the child's pid is Azurite's own (its CPU is read from /proc).
  const child = spawn(join(repo, "node_modules/.bin/azurite-blob"), args, { cwd, stdio: "ignore" });
  for (let i = 0; i < 300; i += 1) {
    const up = await new Promise((r) => {
      const req = request({ host: "127.0.0.1", port, path: "/" }, (res) => {
        res.resume();
        r(true);
      });
      req.on("error", () => r(false)).end();
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const endpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
  return {
    pid: child.pid,
    conn: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${ACCOUNT_KEY};BlobEndpoint=${endpoint};`,
    stop: async () => {
      child.kill("SIGKILL");
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

async function benchFs(dir, runs) {
  const size = Number(values["fs-mib"]) * MiB;
  const file = join(dir, "input.bin");
  await pipeline(generated(size), createWriteStream(file));
  const { FsEvidenceStore } = await store();
  const peer = [];
  const durable = [];
  const ours = [];
  const streamed = [];
  for (let run = 0; run < runs; run += 1) {
    const copy = join(dir, `copy-${run}.bin`);
    peer.push(
      await time(async () => {
        execFileSync("cp", [file, copy]);
        execFileSync("openssl", ["dgst", "-sha256", copy]);
      }),
    );
    await rm(copy);
    // The same with the copy made durable (`sync FILE` is fsync), as every create is.
    durable.push(
      await time(async () => {
        execFileSync("cp", [file, copy]);
        execFileSync("sync", [copy]);
        execFileSync("openssl", ["dgst", "-sha256", copy]);
      }),
    );
    await rm(copy);
    const fs = await FsEvidenceStore.open(join(dir, `store-${run}`));
    // A whole file: copied by the kernel, the copy hashed while it is fsynced.
    ours.push(await time(() => fs.create("bench/object", createReadStream(file, { highWaterMark: MiB }))));
    // The same bytes as a stream (an upload): read, hashed on a worker, written, fsynced.
    const body = Readable.from(createReadStream(file, { highWaterMark: MiB }), { objectMode: false });
    streamed.push(await time(() => fs.create("bench/streamed", body, { sizeHint: size })));
    await rm(join(dir, `store-${run}`), { recursive: true, force: true });
  }
  return {
    size,
    peer: stats(peer),
    durable: stats(durable),
    ours: stats(ours),
    streamed: stats(streamed),
  };
}

async function benchAzure(dir, runs) {
  const size = Number(values["azure-mib"]) * MiB;
  const file = join(dir, "azure-input.bin");
  await pipeline(generated(size), createWriteStream(file));
  const azurite = await startAzurite();
  try {
    const { BlobServiceClient } = await blobSdk();
    const { AzureBlobEvidenceStore } = await azure();
    const container = BlobServiceClient.fromConnectionString(azurite.conn).getContainerClient("bench");
    await container.create();
    const ours = await AzureBlobEvidenceStore.open({
      connectionString: azurite.conn,
      containerName: "bench",
    });
    // The same block size and concurrency as peer 2, so both send the same requests.
    const same = await AzureBlobEvidenceStore.open({
      connectionString: azurite.conn,
      containerName: "bench",
      blockSizeBytes: 8 * MiB,
      concurrency: 4,
    });
    // The SDK sends a file of up to 256 MiB as one Put Blob; the second peer forces its staged-block path.
    const staged = { blockSize: 8 * MiB, maxSingleShotSize: 4 * MiB, concurrency: 4 };
    const input = () => createReadStream(file, { highWaterMark: MiB });
    const uploads = {
      peer: (name) => container.getBlockBlobClient(name).uploadFile(file),
      blocks: (name) => container.getBlockBlobClient(name).uploadFile(file, staged),
      ours: (name) => ours.create(name, input()),
      ours8: (name) => same.create(name, input()),
      // Not a whole file (an upload, a pipe): the chunks are copied into the block buffers.
      streamed: (name) => ours.create(name, Readable.from(input(), { objectMode: false })),
    };
    const names = Object.keys(uploads);
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let run = 0; run < runs; run += 1) {
      for (let i = 0; i < names.length; i += 1) {
        const name = names[(run + i) % names.length];
        const blob = `${name}-${run}`;
        samples[name].push(await timeCpu(azurite.pid, () => uploads[name](blob)));
        await container.deleteBlob(blob);
      }
    }
    const summary = (xs) => ({
      ...stats(xs.map((x) => x.ms)),
      client: median(xs.map((x) => x.client)),
      server: median(xs.map((x) => x.server)),
    });
    return {
      size,
      peer: summary(samples.peer),
      blocks: summary(samples.blocks),
      ours: summary(samples.ours),
      ours8: summary(samples.ours8),
      streamed: summary(samples.streamed),
    };
  } finally {
    await azurite.stop();
  }
}

/** Child mode: stream a generated object of --peak-mib into one backend and print maxRSS. */
async function peakChild(kind) {
  const size = Number(values["peak-mib"]) * MiB;
  const dir = await mkdtemp(join(tmpdir(), "bench-peak-"));
  try {
    const backend =
      kind === "fs"
        ? await (await store()).FsEvidenceStore.open(join(dir, "store"))
        : await (await azure()).AzureBlobEvidenceStore.open({
            connectionString: values.conn,
            containerName: "peak",
            createContainer: true,
          });
    const baseline = process.memoryUsage.rss() / MiB;
    await backend.create(`peak-${randomUUID()}`, generated(size));
    process.stdout.write(
      `${JSON.stringify({ baseline, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runPeak(kind, conn) {
  const args = [
    fileURLToPath(import.meta.url),
    "--peak",
    kind,
    "--peak-mib",
    values["peak-mib"],
    ...(conn ? ["--conn", conn] : []),
  ];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 20 }));
}

async function main() {
  if (values.peak) return peakChild(values.peak);
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(values.dir, "bench-store-"));
  try {
    const fs = values.only === "azure" ? undefined : await benchFs(dir, runs);
    const az = values.only === "fs" ? undefined : await benchAzure(dir, runs);
    let peaks;
    if (values.only === undefined) {
      const azurite = await startAzurite();
      try {
        peaks = { fs: runPeak("fs"), azure: runPeak("azure", azurite.conn) };
      } finally {
        await azurite.stop();
      }
    }
    // min and median of the runs; each ratio is ours over the peer, min over min and median over median
    const ratio = (a, b) => `${(a.min / b.min).toFixed(2)}× / ${(a.median / b.median).toFixed(2)}×`;
    const ms = (x) => `${x.min.toFixed(0)} / ${x.median.toFixed(0)}`;
    const cpu = (x) => `${x.client.toFixed(2)} + ${x.server.toFixed(2)}`;
    const rows = [
      "| operation | min / median ms | CPU s, median: this process + Azurite | vs peer (min / median) | target |",
      "| --- | ---: | ---: | ---: | --- |",
    ];
    if (fs !== undefined) {
      rows.push(
        `| fs: cp + openssl dgst -sha256, ${fs.size / MiB} MiB (peer) | ${ms(fs.peer)} | | 1.00× | |`,
        `| fs: cp + sync + openssl dgst -sha256 (durable peer) | ${ms(fs.durable)} | | ${ratio(fs.durable, fs.peer)} | |`,
        `| fs: FsEvidenceStore.create of the file (kernel copy, hash of the copy, fsync, commit) | ${ms(fs.ours)} | | ${ratio(fs.ours, fs.durable)} of durable | ≤ 1.1× |`,
        `| fs: FsEvidenceStore.create of the same bytes as a stream (sha256 on a worker) | ${ms(fs.streamed)} | | ${ratio(fs.streamed, fs.durable)} of durable | |`,
      );
    }
    if (az !== undefined) {
      // Each of ours is reported against both peers: the staged-block upload (same kind of requests) and
      // the plain uploadFile (one Put Blob of the whole file).
      const both = (x) => `${ratio(x, az.blocks)} of peer 2; ${ratio(x, az.peer)} of peer`;
      rows.push(
        `| azure: uploadFile to Azurite, ${az.size / MiB} MiB, no hashing (peer) | ${ms(az.peer)} | ${cpu(az.peer)} | 1.00× | |`,
        `| azure: uploadFile forced to 8 MiB staged blocks (peer 2) | ${ms(az.blocks)} | ${cpu(az.blocks)} | ${ratio(az.blocks, az.peer)} of peer | |`,
        `| azure: AzureBlobEvidenceStore.create (sha256, default blocks) | ${ms(az.ours)} | ${cpu(az.ours)} | ${both(az.ours)} | ≤ 1.05× of peer 2 |`,
        `| azure: the same with 8 MiB blocks, 4 in flight (peer 2's requests) | ${ms(az.ours8)} | ${cpu(az.ours8)} | ${both(az.ours8)} | ≤ 1.05× of peer 2 |`,
        `| azure: the same bytes as a stream (default blocks, not a whole file) | ${ms(az.streamed)} | ${cpu(az.streamed)} | ${both(az.streamed)} | |`,
      );
    }
    const load = execFileSync("uptime", { encoding: "utf8" }).trim();
    console.log(`store benchmark, ${runs} runs, node ${process.version}; load: ${load}\n`);
    console.log(rows.join("\n"));
    if (peaks !== undefined) {
      console.log(`\npeak RSS streaming a generated ${values["peak-mib"]} MiB object (target ≤ 150 MiB):`);
      const row = (name, p) => `| ${name} | ${p.baseline.toFixed(0)} | ${p.maxRssMiB.toFixed(0)} |`;
      console.log(
        [
          "| backend | RSS before MiB | max RSS MiB |",
          "| --- | ---: | ---: |",
          row("fs", peaks.fs),
          row("azure (Azurite)", peaks.azure),
        ].join("\n"),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
