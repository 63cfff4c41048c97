#!/usr/bin/env node
// Idle agents held by one server: the server's RSS per connected agent (mutual TLS, WebSocket
// custody.agent.v1, hello/welcome with the nonce recorded in the audit log), against a bare `ws`
// server over the same TLS settings holding the same number of sockets (the peer: no vault, no checks).
// Also the time for N agents to connect and be welcomed. Uses dist/ (run `pnpm exec tsc -b` first).
//   node scripts/bench/live-agents.mjs [--agents 1000]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:https";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectAll, enrollDevices } from "./lib/agents.mjs";
import { rssBytes, startJsonChild } from "./lib/server.mjs";

const root = new URL("../../", import.meta.url).pathname;
const dist = (pkg, file = "index.js") => join(root, "packages", pkg, "dist", file);
const { encodeFrame } = await import(dist("agent", "protocol.js"));
const MiB = 1024 * 1024;

if (process.argv[2] === "custody") await custodyChild(process.argv[3], Number(process.argv[4]));
else if (process.argv[2] === "custody-again") await custodyAgain(process.argv[3]);
else if (process.argv[2] === "peer") await peerChild(process.argv[3]);
else await main();

/** A custody server on a fresh vault with N enrolled devices (one key, N certificates). */
async function custodyChild(dir, count) {
  const { Vault } = await import(dist("vault"));
  const { startServer } = await import(dist("server"));
  const { vault, identityPem } = await Vault.init(join(dir, "vault"), { custodian: "bench", keyBits: 2048 });
  const alice = vault.authenticate(identityPem);
  const csrPem = readFileSync(join(dir, "device.csr"), "utf8");
  const devices = await enrollDevices(vault, alice, csrPem, count);
  writeFileSync(join(dir, "devices.json"), JSON.stringify(devices));
  const server = await startServer({
    vault,
    port: 0,
    names: ["127.0.0.1"],
    writeServerFile: false,
    limits: { maxConnections: count + 100, requestsPerSecond: 1e9, requestBurst: 1e9 },
  });
  globalThis.gc?.();
  process.stdout.write(`${JSON.stringify({ url: server.urls[0], pid: process.pid })}\n`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

/** The same vault served again (a restart): the agents come back with the nonce they were given. */
async function custodyAgain(dir) {
  const { Vault } = await import(dist("vault"));
  const { startServer } = await import(dist("server"));
  const vault = await Vault.open({ dir: join(dir, "vault") });
  const count = JSON.parse(readFileSync(join(dir, "devices.json"), "utf8")).length;
  const server = await startServer({
    vault,
    port: 0,
    names: ["127.0.0.1"],
    writeServerFile: false,
    limits: { maxConnections: count + 100, requestsPerSecond: 1e9, requestBurst: 1e9 },
  });
  process.stdout.write(`${JSON.stringify({ url: server.urls[0], pid: process.pid })}\n`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

/** The peer: `ws` on node:https with the same TLS 1.3 mutual-TLS settings, welcoming every hello. */
async function peerChild(dir) {
  const { WebSocketServer } = createRequire(join(root, "packages", "server", "package.json"))("ws");
  const ca = readFileSync(join(dir, "vault", "pki", "ca.pem"), "utf8");
  const https = createServer({
    key: readFileSync(join(dir, "vault", "server", "tls.key")),
    cert: readFileSync(join(dir, "vault", "server", "tls.pem")),
    ca: [ca],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  });
  const wss = new WebSocketServer({ server: https, maxPayload: 1024 * 1024, perMessageDeflate: false });
  wss.on("connection", (ws) => {
    let seq = 1;
    ws.on("message", () => {
      const body = {
        nonce: "x".repeat(43),
        serverTime: new Date().toISOString(),
        maxFrameBytes: 1024 * 1024,
      };
      ws.send(encodeFrame("welcome", body, { seq: seq++ }));
    });
  });
  https.listen(0, "127.0.0.1", () => {
    globalThis.gc?.();
    process.stdout.write(
      `${JSON.stringify({ url: `https://127.0.0.1:${https.address().port}`, pid: process.pid })}\n`,
    );
  });
}

function startChild(args) {
  return startJsonChild(new URL(import.meta.url).pathname, args, { nodeArgs: ["--expose-gc"] });
}

async function measure(server, devices, key, ca) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idle = rssBytes(server.pid);
  const { sockets, seconds } = await connectAll(server.url, devices, key, ca);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const held = rssBytes(server.pid);
  return { idle, held, perAgent: (held - idle) / devices.length, seconds, sockets };
}

async function main() {
  const { values } = parseArgs({ options: { agents: { type: "string", default: "1000" } } });
  const count = Number(values.agents);
  const dir = await mkdtemp(join(tmpdir(), "custody-live-bench-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        "device.key",
        "-out",
        "device.csr",
        "-subj",
        "/CN=bench",
      ],
      {
        cwd: dir,
        stdio: "pipe",
      },
    );
    const key = readFileSync(join(dir, "device.key"), "utf8");
    const enrollStarted = performance.now();
    const custody = await startChild(["custody", dir, String(count)]);
    const enrollSeconds = (performance.now() - enrollStarted) / 1000;
    const devices = JSON.parse(readFileSync(join(dir, "devices.json"), "utf8"));
    const ca = readFileSync(join(dir, "vault", "pki", "ca.pem"), "utf8");
    const ours = await measure(custody, devices, key, ca);
    // a restart: the server closes every agent (1001) and its vault; the agents reconnect to the next one
    const stopped = new Promise((resolve) => custody.child.once("exit", resolve));
    custody.child.kill("SIGTERM");
    await stopped;
    const again = await startChild(["custody-again", dir]);
    const back = await connectAll(again.url, devices, key, ca);
    const agentsBack = back.sockets.length;
    for (const ws of back.sockets) ws.terminate();
    again.child.kill("SIGTERM");
    const peer = await startChild(["peer", dir]);
    for (const device of devices) device.nonce = undefined;
    const theirs = await measure(peer, devices, key, ca);
    for (const ws of theirs.sockets) ws.terminate();
    peer.child.kill("SIGTERM");
    const row = (name, m) =>
      `| ${name} | ${count} | ${(m.idle / MiB).toFixed(1)} | ${(m.held / MiB).toFixed(1)} | ${(m.perAgent / 1024).toFixed(1)} | ${m.seconds.toFixed(1)} |`;
    console.log(`enrolled ${count} devices in-process before serving: ${enrollSeconds.toFixed(1)} s`);
    console.log(
      "| server | agents | RSS idle MiB | RSS with agents MiB | KiB per agent | connect+welcome all, s |",
    );
    console.log("|---|---|---|---|---|---|");
    console.log(row("custody serve (vault-checked mTLS, audited hello)", ours));
    console.log(row("bare ws over node:https (peer)", theirs));
    console.log(
      `after a restart of custody serve: ${agentsBack} agents back (hello with their last nonce, welcomed) in ${back.seconds.toFixed(1)} s`,
    );
    console.log(
      `ratio per agent: ${(ours.perAgent / theirs.perAgent).toFixed(2)}x; connect time: ${(ours.seconds / theirs.seconds).toFixed(2)}x`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
