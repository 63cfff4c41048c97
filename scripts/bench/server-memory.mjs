#!/usr/bin/env node
// The server's memory while it holds many idle mutual-TLS connections and takes large uploads: the peak
// RSS of the server process (sampled from /proc), against its RSS when idle. Uses dist/.
//   node scripts/bench/server-memory.mjs [--connections 500] [--uploads 2] [--size-mib 512]
import { execSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { curlUploadArgs, rssBytes, send, startServerChild, writeRandom } from "./lib/server.mjs";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "500" },
    uploads: { type: "string", default: "2" },
    "size-mib": { type: "string", default: "512" },
  },
});
const connections = Number(values.connections);
const uploads = Number(values.uploads);
const sizeMiB = Number(values["size-mib"]);
const base = await mkdtemp(join(tmpdir(), "custody-memory-bench-"));
function curl(args) {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("exit", () => resolve({ stdout, stderr }));
  });
}

const rss = (pid) => rssBytes(pid) / (1024 * 1024);

const server = await startServerChild(base, { BENCH_KEEPALIVE_MS: "600000" });
let sampler;
try {
  const idle = rss(server.pid);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
    ...server.identity,
    ca: server.ca,
  });
  await Promise.all(Array.from({ length: connections }, () => send(server.url, "/healthz", { agent })));
  const held = rss(server.pid);
  let peak = held;
  sampler = setInterval(() => {
    peak = Math.max(peak, rss(server.pid));
  }, 100);
  const file = join(base, "upload.bin");
  await writeRandom(file, sizeMiB);
  const tls = {
    cert: join(base, "cert.pem"),
    key: join(base, "key.pem"),
    ca: join(base, "vault", "pki", "ca.pem"),
  };
  await writeFile(tls.cert, server.identity.cert);
  await writeFile(tls.key, server.identity.key, { mode: 0o600 });
  for (let n = 0; n < uploads; n++) {
    // each upload differs in its last byte only, so each is a new item
    execSync(
      `printf '${n % 10}' | dd of=${file} bs=1 seek=${sizeMiB * 1024 * 1024 - 1} conv=notrunc status=none`,
    );
    // curl runs asynchronously: a synchronous spawn would stop the RSS sampler for the whole upload
    const run = await curl(curlUploadArgs(`${server.url}/v1/items?case=MEM&name=u${n}.bin`, file, tls));
    if (run.stdout.toString() !== "201") throw new Error(`upload ${n}: ${run.stdout} ${run.stderr}`);
  }
  clearInterval(sampler);
  const open = (sockets) =>
    Object.values(sockets)
      .flat()
      .filter((socket) => !socket.destroyed).length;
  const stillOpen = open(agent.sockets) + open(agent.freeSockets);
  agent.destroy();
  console.log(
    `${connections} idle mTLS connections held, ${uploads} uploads of ${sizeMiB} MiB; load: ${execSync("uptime").toString().trim()}\n`,
  );
  console.log("| server RSS | MiB |\n| --- | ---: |");
  console.log(`| idle, after start | ${idle.toFixed(0)} |`);
  console.log(`| holding ${connections} connections | ${held.toFixed(0)} |`);
  console.log(
    `| peak while uploading ${uploads} × ${sizeMiB} MiB with the connections held | ${peak.toFixed(0)} |`,
  );
  console.log(`\nconnections still open at the end: ${stillOpen} of ${connections}`);
} finally {
  clearInterval(sampler);
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
