#!/usr/bin/env node
// Agent footprint while idle. Run after `pnpm exec tsc -b`:
//   node scripts/bench/agent-idle.mjs [--seconds 60] [--ping-ms 20000]
// A TLS 1.3 WebSocket server under a fresh test CA (the contract's /v1/agent: subprotocol, mTLS, a ping
// every --ping-ms) holds, in the same run:
//   custody-agent run   (the agent package's own bin; enrolled identity written directly, default policy)
//   custody agent run   (the same through the whole `custody` CLI, which loads every package)
//   a bare Node client  (the same `ws` library, the same device certificate, nothing else: the floor any
//                        Node agent pays to hold one mutual-TLS WebSocket)
// Each is welcomed, then left idle for --seconds. Reported per process: RSS and private memory (RssAnon)
// at the end, and CPU time (utime+stime from /proc/<pid>/stat) spent while idle, as ms per minute.
import { spawn } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values } = parseArgs({
  options: { seconds: { type: "string", default: "60" }, "ping-ms": { type: "string", default: "20000" } },
});
const seconds = Number(values.seconds);
const pingMs = Number(values["ping-ms"]);
const requireAgent = createRequire(join(root, "packages/agent/package.json"));
const { WebSocketServer } = requireAgent("ws");
const { createCertificateAuthority, issueCertificate } = await import(
  join(root, "packages/manifest/dist/index.js")
);
const { encodeFrame, decodeFrame, DEFAULT_AGENT_POLICY } = await import(
  join(root, "packages/agent/dist/index.js")
);
const CLK_TCK = 100;

const work = await mkdtemp(join(tmpdir(), "agent-idle-"));
try {
  const ca = await createCertificateAuthority({ commonName: "Bench CA" });
  const leaf = await issueCertificate(ca, {
    commonName: "localhost",
    usage: "server",
    subjectAltNames: ["127.0.0.1"],
  });
  const deviceId = `D-${"0123456789ABCDEFGHJKMNPQRS"}`;
  const device = await issueCertificate(ca, { commonName: deviceId, usage: "device" });
  const server = createServer({
    key: leaf.keyPem,
    cert: leaf.certificatePem,
    ca: [ca.certificatePem],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  });
  const wss = new WebSocketServer({ server, path: "/v1/agent", handleProtocols: () => "custody.agent.v1" });
  const welcomed = [];
  wss.on("connection", (ws) => {
    let seq = 1;
    const ping = setInterval(() => ws.ping(), pingMs);
    ws.on("close", () => clearInterval(ping));
    ws.on("message", (data) => {
      const frame = decodeFrame(data, { from: "agent" });
      if (frame.t === "hello") {
        ws.send(
          encodeFrame(
            "welcome",
            {
              nonce: randomBytes(32).toString("base64url"),
              serverTime: new Date().toISOString(),
              maxFrameBytes: 1048576,
            },
            { seq: seq++ },
          ),
        );
        welcomed.shift()?.();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `https://127.0.0.1:${server.address().port}`;

  const dir = join(work, "state");
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, "device-key.pem"), device.keyPem, { mode: 0o600 });
  await writeFile(join(dir, "device-certificate.pem"), device.certificatePem);
  await writeFile(join(dir, "vault-ca.pem"), ca.certificatePem);
  const caSha256 = createHash("sha256").update(new X509Certificate(ca.certificatePem).raw).digest("hex");
  await writeFile(
    join(dir, "agent.json"),
    JSON.stringify({
      format: "custody.agent.state/v1",
      deviceId,
      serverUrl: url,
      caSha256,
      enrolledAt: new Date().toISOString(),
    }),
    { mode: 0o600 },
  );
  const policy = join(work, "policy.json");
  await writeFile(policy, JSON.stringify(DEFAULT_AGENT_POLICY), { mode: 0o600 });
  await chmod(work, 0o700);

  const bare = `
    const WebSocket = require(${JSON.stringify(requireAgent.resolve("ws"))});
    const fs = require("node:fs");
    const ws = new WebSocket(${JSON.stringify(`${url.replace("https", "wss")}/v1/agent`)}, "custody.agent.v1", {
      cert: fs.readFileSync(${JSON.stringify(join(dir, "device-certificate.pem"))}),
      key: fs.readFileSync(${JSON.stringify(join(dir, "device-key.pem"))}),
      ca: [fs.readFileSync(${JSON.stringify(join(dir, "vault-ca.pem"))})], minVersion: "TLSv1.3" });
    ws.on("open", () => ws.send(JSON.stringify({ v: 1, t: "hello", id: "h", seq: 1, ts: new Date().toISOString(), body: {
      deviceId: ${JSON.stringify(deviceId)}, agentVersion: "bare", hostname: "h", os: "linux", arch: "x64",
      policyHash: "0".repeat(64), prevNonce: null, capabilities: [] } })));`;

  const runs = [
    {
      name: "custody-agent run (the agent's own bin)",
      args: [join(root, "packages/agent/dist/bin.js"), "run", "--dir", dir, "--policy", policy],
    },
    {
      name: "custody agent run (the whole CLI)",
      args: [join(root, "packages/cli/dist/bin.js"), "agent", "run", "--dir", dir, "--policy", policy],
    },
    { name: "bare Node ws client (floor)", args: ["-e", bare] },
  ];
  const rows = [];
  for (const run of runs) {
    const ready = new Promise((resolve) => welcomed.push(resolve));
    const child = spawn(process.execPath, run.args, {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" },
    });
    await ready;
    await new Promise((r) => setTimeout(r, 2000)); // startup work (imports, TLS) settles before measuring
    const before = await cpuTicks(child.pid);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await cpuTicks(child.pid);
    const status = await readFile(`/proc/${child.pid}/status`, "utf8");
    const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    rows.push({
      name: run.name,
      rssMiB: kib("VmRSS") / 1024,
      anonMiB: kib("RssAnon") / 1024,
      cpuMsPerMin: (((after - before) * 1000) / CLK_TCK / seconds) * 60,
    });
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  wss.close();
  server.close();
  const [agent, , floor] = rows;
  console.log(`idle ${seconds} s, server ping every ${pingMs} ms, node ${process.version}\n`);
  console.log("| process | RSS MiB | private (RssAnon) MiB | CPU ms per idle minute |");
  console.log("|---|---:|---:|---:|");
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.rssMiB.toFixed(1)} | ${r.anonMiB.toFixed(1)} | ${r.cpuMsPerMin.toFixed(1)} |`,
    );
  console.log(
    `| ratio agent / floor | ${(agent.rssMiB / floor.rssMiB).toFixed(2)}x | ${(agent.anonMiB / floor.anonMiB).toFixed(2)}x | ${floor.cpuMsPerMin > 0 ? `${(agent.cpuMsPerMin / floor.cpuMsPerMin).toFixed(2)}x` : "n/a"} |`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}

async function cpuTicks(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}
