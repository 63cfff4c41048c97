#!/usr/bin/env node
// getfile end to end: a real agent process reads a file, PUTs it over mutual TLS to `custody serve`, which
// streams it into the vault create-only under the fileinfo digest (sha1/md5/size checked on the way) and
// audits it; timed from the submit to the command's result. The peer: curl fetching the same file from a
// minimal Node HTTPS server on loopback (same TLS 1.3, client certificate) and writing it to disk.
// The fileinfo prerequisite (one hashing read on the device) runs first and is timed apart. Uses dist/.
//   node scripts/bench/live-getfile.mjs [--size-mib 700]   (the server's and the agent's default limit is 750 MiB)
import { execSync, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startPeer, startServerChild, writeRandom } from "./lib/server.mjs";

const { values } = parseArgs({ options: { "size-mib": { type: "string", default: "700" } } });
const sizeMiB = Number(values["size-mib"]);
const root = new URL("../../", import.meta.url).pathname;
const bin = join(root, "packages", "cli", "dist", "bin.js");
const { createVaultClient, createLiveClient } = await import(
  join(root, "packages", "client", "dist", "index.js")
);
const base = await mkdtemp(join(tmpdir(), "custody-getfile-bench-"));
const children = [];

const PEER = `
import { createServer } from "node:https";
import { createReadStream, readFileSync } from "node:fs";
const [file, key, cert, ca] = process.argv.slice(1);
const server = createServer({ key: readFileSync(key), cert: readFileSync(cert), ca: readFileSync(ca), requestCert: true,
  rejectUnauthorized: true, minVersion: "TLSv1.3" }, (req, res) => {
  res.writeHead(200, { "content-type": "application/octet-stream" });
  createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(res);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

function custody(args) {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd: base, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`custody ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

async function result(live, cmdId) {
  for await (const event of live.events(cmdId)) if (event.type === "result") return event.command;
  throw new Error(`no result for ${cmdId}`);
}

async function run(live, sessionId, line) {
  const start = performance.now();
  const entry = await live.submit(sessionId, line);
  const done = await result(live, entry.id);
  if (done.status !== "completed") throw new Error(`${line}: ${done.status} ${JSON.stringify(done.error)}`);
  return { ms: performance.now() - start, done };
}

const server = await startServerChild(base);
try {
  const file = join(base, "evidence.bin");
  await writeRandom(file, sizeMiB);
  const identityPem = `${server.identity.cert}\n${server.identity.key}\n${server.ca}`;
  const vault = createVaultClient({ baseUrl: server.url, identityPem });
  const live = createLiveClient({ baseUrl: server.url, identityPem });
  await vault.setLiveResponse(true);
  const { token } = await vault.createEnrollmentToken({});
  await writeFile(join(base, "ca.pem"), server.ca);
  const { deviceId } = JSON.parse(
    custody([
      "agent",
      "enroll",
      "--server",
      server.url,
      "--token",
      token,
      "--dir",
      "agent",
      "--ca",
      "ca.pem",
      "--json",
    ]),
  );
  await writeFile(join(base, "policy.json"), custody(["agent", "policy"]), { mode: 0o600 });
  const agent = spawn(
    process.execPath,
    [bin, "agent", "run", "--dir", join(base, "agent"), "--policy", join(base, "policy.json")],
    {
      stdio: "ignore",
      env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" },
    },
  );
  children.push(agent);
  for (let i = 0; !(await vault.listDevices()).find((d) => d.deviceId === deviceId)?.online; i++) {
    if (i > 400) throw new Error("the agent never connected");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  spawnSync("cat", [file], { stdio: ["ignore", "ignore", "inherit"] }); // the page cache holds it for every run
  const session = await live.openSession(deviceId, "BENCH");
  const fileinfo = await run(live, session.id, `fileinfo ${file}`);
  const getfile = await run(live, session.id, `getfile ${file}`);
  await live.closeSession(session.id);

  const tls = { ca: join(base, "ca.pem"), cert: join(base, "cert.pem"), key: join(base, "key.pem") };
  await writeFile(tls.cert, server.identity.cert);
  await writeFile(tls.key, server.identity.key, { mode: 0o600 });
  const { child: peer, port } = await startPeer(PEER, [
    file,
    join(base, "vault", "server", "tls.key"),
    join(base, "vault", "server", "tls.pem"),
    tls.ca,
  ]);
  children.push(peer);
  const start = performance.now();
  const curl = spawnSync("curl", [
    "--fail",
    "-sS",
    "--tlsv1.3",
    "--cacert",
    tls.ca,
    "--cert",
    tls.cert,
    "--key",
    tls.key,
    "-o",
    join(base, "peer.bin"),
    `https://127.0.0.1:${port}/`,
  ]);
  const curlMs = performance.now() - start;
  if (curl.status !== 0) throw new Error(`curl: ${curl.stderr}`);

  const mibs = (ms) => (sizeMiB / (ms / 1000)).toFixed(0);
  console.log(`${sizeMiB} MiB of random bytes on loopback; load: ${execSync("uptime").toString().trim()}\n`);
  console.log("| what | seconds | MiB/s |\n| --- | ---: | ---: |");
  console.log(
    `| curl from a minimal Node HTTPS server to disk (peer) | ${(curlMs / 1000).toFixed(2)} | ${mibs(curlMs)} |`,
  );
  console.log(
    `| getfile: agent read + hash + PUT, server store + checks + audit | ${(getfile.ms / 1000).toFixed(2)} | ${mibs(getfile.ms)} |`,
  );
  console.log(
    `| fileinfo before it (one hashing read on the device: sha256, sha1, md5) | ${(fileinfo.ms / 1000).toFixed(2)} | ${mibs(fileinfo.ms)} |`,
  );
  console.log(`\ngetfile / curl: ${(getfile.ms / curlMs).toFixed(2)}× (item ${getfile.done.itemId})`);
  vault.close();
  live.close();
} finally {
  for (const child of children) child.kill("SIGTERM");
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
