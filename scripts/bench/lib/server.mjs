// Shared by the server benchmarks: a custody server on a fresh vault in its own process (so the load
// generator and the server do not share an event loop), and a tiny mTLS keep-alive load generator.
//   node scripts/bench/lib/server.mjs child DIR   (what startServerChild runs)
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { createWriteStream, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { join } from "node:path";

const dist = (pkg) => new URL(`../../../packages/${pkg}/dist/index.js`, import.meta.url).href;

if (process.argv[2] === "child") {
  const dir = process.argv[3];
  const { Vault } = await import(dist("vault"));
  const { startServer } = await import(dist("server"));
  const created = await Vault.init(join(dir, "vault"), { custodian: "bench", keyBits: 2048 });
  await writeFile(join(dir, "bench.pem"), created.identityPem, { mode: 0o600 });
  await created.vault.close();
  // reopened as `custody serve` opens it; BENCH_AUDIT_WRITES=thread-pool: every audit write through the pool
  const vault = await Vault.open({
    dir: join(dir, "vault"),
    blockingAuditWrites: process.env.BENCH_AUDIT_WRITES === "thread-pool" ? false : "when-alone",
  });
  // BENCH_LOG_FILE: the server logs at info into this file, as `custody serve` logs to its stdout
  const logFile = process.env.BENCH_LOG_FILE;
  const { pino } = await import(
    new URL("../../../packages/server/node_modules/pino/pino.js", import.meta.url).href
  );
  const server = await startServer({
    vault,
    ...(logFile === undefined ? {} : { logger: pino({ level: "info" }, pino.destination(logFile)) }),
    port: 0,
    names: ["127.0.0.1", "localhost"],
    // BENCH_MAX_GETFILE_BYTES: a getfile limit over the default 750 MiB (the 1 GiB getfile benchmark)
    ...(process.env.BENCH_MAX_GETFILE_BYTES === undefined
      ? {}
      : { liveLimits: { maxGetfileBytes: Number(process.env.BENCH_MAX_GETFILE_BYTES) } }),
    limits: {
      requestsPerSecond: 1e9,
      requestBurst: 1e9,
      maxUploadBytes: 64 * 1024 ** 3,
      maxConnections: 5000,
      // the memory benchmark holds idle connections open for the length of its uploads
      keepAliveTimeoutMs: Number(process.env.BENCH_KEEPALIVE_MS ?? 10_000),
      idleSocketTimeoutMs: Number(process.env.BENCH_KEEPALIVE_MS ?? 120_000),
    },
  });
  process.stdout.write(`${JSON.stringify({ url: server.urls[0], pid: process.pid })}\n`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

export function identityParts(pem) {
  return {
    cert: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)[0],
    key: /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)[0],
  };
}

/**
 * Runs `node ...nodeArgs script ...args`, a child that reports itself as one JSON line on its stdout;
 * resolves with the child and that line's fields.
 */
export function startJsonChild(script, args, { nodeArgs = [], env = {} } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) resolve({ child, ...JSON.parse(text.split("\n")[0]) });
    });
    child.once("exit", (code) => reject(new Error(`${script} ${args[0] ?? ""} exited ${code}`)));
  });
}

/** Starts the server child on a vault under `dir`; resolves once it listens. */
export async function startServerChild(dir, env = {}, nodeArgs = []) {
  const { child, url, pid } = await startJsonChild(new URL(import.meta.url).pathname, ["child", dir], {
    nodeArgs,
    env,
  });
  const pem = await readFile(join(dir, "bench.pem"), "utf8");
  const ca = await readFile(join(dir, "vault", "pki", "ca.pem"), "utf8");
  const stop = () =>
    new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  return { url, pid, ca, identity: identityParts(pem), identityFile: join(dir, "bench.pem"), child, stop };
}

/** One request on `agent`; resolves with status and body. */
export function send(url, path, { agent, method = "GET", body, headers = {} }) {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { agent, method, headers });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.end(body);
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat (1-based), 12 and 13 after the command name
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A process's resident set size in bytes, from /proc (Linux); 0 once it is gone. */
export function rssBytes(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
}

/**
 * `connections` keep-alive mTLS connections each issuing requests back to back for `seconds`:
 * requests per second, p50/p99 latency, errors, and with `pid` the CPU milliseconds that process spent
 * per request (a figure the other load on a shared machine moves far less than the rate).
 */
export async function load(url, paths, { identity, ca, connections, seconds, pid }) {
  const cpuBefore = pid === undefined ? 0 : await cpuSeconds(pid);
  const agent = new Agent({ keepAlive: true, maxSockets: connections, ...identity, ca });
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      for (let n = worker; performance.now() < deadline; n++) {
        const start = performance.now();
        const response = await send(url, paths[n % paths.length], { agent }).catch(() => ({ status: 0 }));
        if (response.status !== 200) errors++;
        latencies.push(performance.now() - start);
      }
    }),
  );
  agent.destroy();
  const cpu = pid === undefined ? Number.NaN : (await cpuSeconds(pid)) - cpuBefore;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    perSecond: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
    errors,
    cpuMsPerRequest: (cpu * 1000) / latencies.length,
  };
}

/** curl arguments that stream `file` (-T, never read whole) to an mTLS upload route and print the status. */
export function curlUploadArgs(url, file, tls) {
  return [
    "-sS",
    "--tlsv1.3",
    ...["--cacert", tls.ca, "--cert", tls.cert, "--key", tls.key],
    ...["-H", "content-type: application/octet-stream", "-X", "POST", "-T", file],
    ...["-o", "/dev/null", "-w", "%{http_code}", url],
  ];
}

/** Writes `mib` MiB of random bytes to `file`, one reused 1 MiB buffer at a time. */
export async function writeRandom(file, mib) {
  const out = createWriteStream(file);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    randomFillSync(chunk);
    if (!out.write(chunk)) await new Promise((resolve) => out.once("drain", resolve));
  }
  await new Promise((resolve) => out.end(resolve));
}

/**
 * Runs a peer server given as module source (`node --input-type=module -e source ...args`) that prints
 * its port on its first line; resolves with the child and that port.
 */
export async function startPeer(source, args) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", source, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise((resolve) =>
    child.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
  );
  return { child, port };
}
