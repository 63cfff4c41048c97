#!/usr/bin/env node
// Audited small requests through the server: `show` and `whoami` (each one authenticated from the TLS
// peer certificate, authorized and appended to the audit log) over 64 keep-alive mutual-TLS connections,
// against the same server's unaudited /healthz as the ceiling. Server in its own process; uses dist/.
//   node scripts/bench/server-requests.mjs [--connections 64] [--seconds 5]
import { execSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { load, send, startServerChild } from "./lib/server.mjs";

const { values } = parseArgs({
  options: { connections: { type: "string", default: "64" }, seconds: { type: "string", default: "5" } },
});
const connections = Number(values.connections);
const seconds = Number(values.seconds);
const base = await mkdtemp(join(tmpdir(), "custody-server-bench-"));
const server = await startServerChild(base);
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
  const options = { identity: server.identity, ca: server.ca, connections, seconds };
  await load(server.url, ["/healthz"], { ...options, seconds: 1 }); // warm up: handshakes, JIT
  const ceiling = await load(server.url, ["/healthz"], options);
  const audited = await load(server.url, [`/v1/items/${id}?case=BENCH`, "/v1/whoami"], options);
  const row = (name, r) =>
    `| ${name} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} |`;
  console.log(
    `${connections} keep-alive mTLS connections, ${seconds} s each; load: ${execSync("uptime").toString().trim()}\n`,
  );
  console.log("| requests | per second | p50 ms | p99 ms | errors |\n| --- | ---: | ---: | ---: | ---: |");
  console.log(row("/healthz (no vault, no audit): the ceiling", ceiling));
  console.log(row("show + whoami (authenticated, authorized, audited)", audited));
  console.log(`\naudited / ceiling: ${(audited.perSecond / ceiling.perSecond).toFixed(2)}×`);
} finally {
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
