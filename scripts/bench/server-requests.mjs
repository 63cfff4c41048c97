#!/usr/bin/env node
// Audited small requests through the server: `show` and `whoami` (each one authenticated from the TLS
// peer certificate, authorized and appended to the audit log) over 64 keep-alive mutual-TLS connections,
// against the same server's unaudited /healthz as the ceiling. Server in its own process; uses dist/.
//   node scripts/bench/server-requests.mjs [--connections 64] [--seconds 5] [--requests show,whoami] [--log] [--profile DIR]
// The server opens its vault as `custody serve` does; BENCH_AUDIT_WRITES=thread-pool in the environment
// sends every audit write through the thread pool instead (the server before "when-alone").
// --profile DIR: the server runs under `node --cpu-prof` for the audited run only (the .cpuprofile lands
// in DIR; `node scripts/bench/lib/profile-top.mjs FILE` lists the top self-time functions).
import { execSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { load, send, startServerChild } from "./lib/server.mjs";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "64" },
    seconds: { type: "string", default: "5" },
    profile: { type: "string" },
    requests: { type: "string", default: "show,whoami" },
    log: { type: "boolean", default: false },
  },
});
const connections = Number(values.connections);
const seconds = Number(values.seconds);
// the framework's own cost: the same TLS settings and answer from node:https alone
const BARE = `
import { createServer } from "node:https";
import { readFileSync } from "node:fs";
const [key, cert, ca] = process.argv.slice(1);
const server = createServer({ key: readFileSync(key), cert: readFileSync(cert), ca: readFileSync(ca), requestCert: true,
  rejectUnauthorized: true, minVersion: "TLSv1.3" }, (req, res) => {
  res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

const base = await mkdtemp(join(tmpdir(), "custody-server-bench-"));
const profile = values.profile === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", values.profile];
// --log: the server logs at info to a file, as `custody serve` does to its stdout (default: silent)
const server = await startServerChild(
  base,
  values.log ? { BENCH_LOG_FILE: join(base, "server.log") } : {},
  profile,
);
try {
  const agent = new Agent({ keepAlive: true, ...server.identity, ca: server.ca });
  const upload = await send(server.url, "/v1/items?case=BENCH&name=small.txt", {
    agent,
    method: "POST",
    body: "a small item to show",
    headers: { "content-type": "application/octet-stream" },
  });
  const id = JSON.parse(upload.body).id;
  agent.destroy();
  const options = { identity: server.identity, ca: server.ca, connections, seconds, pid: server.pid };
  await load(server.url, ["/healthz"], { ...options, seconds: 1 }); // warm up: handshakes, JIT
  const byName = { show: `/v1/items/${id}?case=BENCH`, whoami: "/v1/whoami" };
  const auditedPaths = values.requests.split(",").map((name) => byName[name]);
  if (values.profile !== undefined) {
    // the profile holds the audited run alone
    const audited = await load(server.url, auditedPaths, options);
    console.log(
      `profiled audited run: ${audited.perSecond.toFixed(0)}/s, p99 ${audited.p99.toFixed(1)} ms, ${audited.cpuMsPerRequest.toFixed(3)} CPU ms per request`,
    );
  } else {
    await report(server, options, auditedPaths);
  }
} finally {
  await server.stop();
  await rm(base, { recursive: true, force: true });
}

async function report(server, options, auditedPaths) {
  const ceiling = await load(server.url, ["/healthz"], options);
  const audited = await load(server.url, auditedPaths, options);
  const pki = (file) => join(base, "vault", file);
  const bare = spawn(
    process.execPath,
    ["--input-type=module", "-e", BARE, pki("server/tls.key"), pki("server/tls.pem"), pki("pki/ca.pem")],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const barePort = await new Promise((resolve) =>
    bare.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
  );
  const bareUrl = `https://127.0.0.1:${barePort}`;
  await load(bareUrl, ["/healthz"], { ...options, seconds: 1, pid: bare.pid });
  const bareRate = await load(bareUrl, ["/healthz"], { ...options, pid: bare.pid });
  bare.kill();
  const row = (name, r) =>
    `| ${name} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.cpuMsPerRequest.toFixed(3)} | ${r.errors} |`;
  console.log(
    `${connections} keep-alive mTLS connections, ${seconds} s each; load: ${execSync("uptime").toString().trim()}\n`,
  );
  console.log(
    "| requests | per second | p50 ms | p99 ms | server CPU ms per request | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |",
  );
  console.log(row("/healthz (no vault, no audit): the ceiling", ceiling));
  console.log(row(`${values.requests} (authenticated, authorized, audited)`, audited));
  console.log(row("node:https alone, same TLS, same answer (no framework)", bareRate));
  console.log(`\naudited / ceiling: ${(audited.perSecond / ceiling.perSecond).toFixed(2)}×`);
  console.log(`fastify /healthz / node:https alone: ${(ceiling.perSecond / bareRate.perSecond).toFixed(2)}×`);
}
