#!/usr/bin/env node
// A large upload through the server's ingest route (streamed, spooled, hashed, verified, stored, audited)
// against the same bytes sent by the same client (`curl -X POST -T file`, mutual TLS 1.3; `--data-binary @file`
// reads a 1 GiB file into memory first and fails) to a minimal
// Node HTTPS server that only writes the body to disk. Both servers in their own process; uses dist/.
//   node scripts/bench/server-upload.mjs [--size-mib 1024] [--runs 3]
// With several runs the two alternate (peer, ours, peer, ours...) and the ratio is taken pair by pair.
import { execSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds, curlUploadArgs, startPeer, startServerChild, writeRandom } from "./lib/server.mjs";

const { values } = parseArgs({
  options: { "size-mib": { type: "string", default: "1024" }, runs: { type: "string", default: "1" } },
});
const sizeMiB = Number(values["size-mib"]);
const runs = Math.max(1, Number(values.runs));
const base = await mkdtemp(join(tmpdir(), "custody-upload-bench-"));

// the peer: a minimal HTTPS server, same TLS settings, that writes the body to a file and answers 201
const PEER = `
import { createServer } from "node:https";
import { createWriteStream, readFileSync } from "node:fs";
import { pipeline } from "node:stream/promises";
const [dir, key, cert, ca] = process.argv.slice(1);
let n = 0;
const server = createServer({ key: readFileSync(key), cert: readFileSync(cert), ca: readFileSync(ca), requestCert: true,
  rejectUnauthorized: true, minVersion: "TLSv1.3" }, async (req, res) => {
  await pipeline(req, createWriteStream(dir + "/body-" + n++));
  res.writeHead(201).end("{}");
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

function curl(url, file, tls) {
  const start = performance.now();
  const run = spawnSync("curl", ["--fail-with-body", ...curlUploadArgs(url, file, tls)]);
  const ms = performance.now() - start;
  if (run.stdout.toString() !== "201") throw new Error(`curl ${url}: ${run.stdout} ${run.stderr}`);
  return ms;
}

const server = await startServerChild(base);
try {
  const file = join(base, "upload.bin");
  await writeRandom(file, sizeMiB);
  const tls = {
    ca: join(base, "vault", "pki", "ca.pem"),
    cert: join(base, "cert.pem"),
    key: join(base, "key.pem"),
  };
  await writeFile(tls.cert, server.identity.cert);
  await writeFile(tls.key, server.identity.key, { mode: 0o600 });
  const peerDir = join(base, "peer");
  execSync(`mkdir -p ${peerDir}`);
  const { child: peer, port: peerPort } = await startPeer(PEER, [
    peerDir,
    join(base, "vault", "server", "tls.key"),
    join(base, "vault", "server", "tls.pem"),
    tls.ca,
  ]);
  spawnSync("cat", [file], { stdio: ["ignore", "ignore", "inherit"] }); // the page cache holds it for both runs
  const rows = [];
  for (let run = 0; run < runs; run++) {
    const peerCpu = await cpuSeconds(peer.pid);
    const peerMs = curl(`https://127.0.0.1:${peerPort}/`, file, tls);
    const peerCpuUsed = (await cpuSeconds(peer.pid)) - peerCpu;
    execSync(`rm -rf ${peerDir}/*`);
    const ourCpu = await cpuSeconds(server.pid);
    const oursMs = curl(`${server.url}/v1/items?case=BENCH${run}&name=upload.bin`, file, tls);
    const ourCpuUsed = (await cpuSeconds(server.pid)) - ourCpu;
    rows.push({ peerMs, peerCpuUsed, oursMs, ourCpuUsed, ratio: oursMs / peerMs });
  }
  peer.kill();
  const mibs = (ms) => (sizeMiB / (ms / 1000)).toFixed(0);
  console.log(
    `${sizeMiB} MiB, curl -X POST -T file over mutual TLS 1.3, ${runs} run(s) alternated; load: ${execSync("uptime").toString().trim()}\n`,
  );
  console.log(
    "| run | server | seconds | MiB/s | server process CPU s |\n| --- | --- | ---: | ---: | ---: |",
  );
  rows.forEach((row, index) => {
    console.log(
      `| ${index + 1} | minimal Node HTTPS server writing the body to disk (peer) | ${(row.peerMs / 1000).toFixed(2)} | ${mibs(row.peerMs)} | ${row.peerCpuUsed.toFixed(2)} |`,
    );
    console.log(
      `| ${index + 1} | custody server ingest (one pass: hash + verify + durable store + audit) | ${(row.oursMs / 1000).toFixed(2)} | ${mibs(row.oursMs)} | ${row.ourCpuUsed.toFixed(2)} |`,
    );
  });
  const ratios = rows.map((row) => row.ratio).sort((a, b) => a - b);
  const median = ratios[Math.floor((ratios.length - 1) / 2)];
  console.log(
    `\ncustody / peer: median ${median.toFixed(2)}× (min ${ratios[0].toFixed(2)}×, max ${ratios.at(-1).toFixed(2)}×)`,
  );
} finally {
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
