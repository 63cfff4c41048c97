#!/usr/bin/env node
// `run` of a trivial signed library script through one live-response session, against one real
// `custody agent run` process: from the analyst's submit until the result event (the server reads the
// script from the library and records the run, the agent verifies the CMS signature and the CRL, runs it
// under setsid, the server stores its stdout as an item). The peer: `ssh localhost true` when an sshd
// answers on localhost without a password, otherwise spawning the same script locally in its own process
// group (`setsid sh script.sh`), which is the floor of running it at all.
// Uses dist/ (run `pnpm exec tsc -b` first).
//   node scripts/bench/live-run.mjs [--runs 200]
import { execFileSync, execSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startJsonChild } from "./lib/server.mjs";

const root = new URL("../../", import.meta.url).pathname;
const dist = (pkg, file = "index.js") => join(root, "packages", pkg, "dist", file);
const bin = dist("cli", "bin.js");
const SCRIPT = "#!/bin/sh\necho ok\n";

/** custody serve on a fresh vault: live response on, the script signed and in the library, a token. */
async function custodyChild(dir) {
  const { Vault } = await import(dist("vault"));
  const { startServer } = await import(dist("server"));
  const { issueCertificate, readKeyPair, writeKeyPair } = await import(dist("manifest"));
  const { vault, identityPem } = await Vault.init(join(dir, "vault"), { custodian: "bench", keyBits: 2048 });
  writeFileSync(join(dir, "bench.pem"), identityPem, { mode: 0o600 });
  const bench = vault.authenticate(identityPem);
  await vault.setLiveResponse(bench, true);
  const ca = await readKeyPair(join(dir, "vault", "pki"), "ca");
  await writeKeyPair(
    dir,
    "scripts",
    await issueCertificate(ca, { commonName: "scripts", usage: "code-signing" }),
  );
  writeFileSync(join(dir, "trivial.sh"), SCRIPT);
  execFileSync(
    "openssl",
    ["cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER", "-in", "trivial.sh"].concat([
      "-signer",
      "scripts.pem",
      "-inkey",
      "scripts.key",
      "-out",
      "trivial.sh.p7s",
    ]),
    { cwd: dir },
  );
  await vault.uploadLibrary(bench, {
    name: "trivial.sh",
    content: Buffer.from(SCRIPT),
    signature: readFileSync(join(dir, "trivial.sh.p7s")),
  });
  const { token } = await vault.createEnrollmentToken(bench, {});
  writeFileSync(join(dir, "token.txt"), token);
  const server = await startServer({
    vault,
    port: 0,
    names: ["127.0.0.1"],
    writeServerFile: false,
    limits: { maxConnections: 100, requestsPerSecond: 1e9, requestBurst: 1e9 },
  });
  process.stdout.write(`${JSON.stringify({ url: server.urls[0], pid: process.pid })}\n`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

function custody(cwd, args) {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`custody ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), n: sorted.length };
}

async function series(runs, once) {
  for (let i = 0; i < Math.min(20, runs); i++) await once(); // warm-up
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  return summary(samples);
}

async function roundTrip(live, sessionId) {
  const start = performance.now();
  const entry = await live.submit(sessionId, "run trivial.sh");
  for await (const event of live.events(entry.id)) {
    if (event.type !== "result") continue;
    if (event.command.status !== "completed" || event.command.itemId === undefined)
      throw new Error(`run: ${event.command.status} ${JSON.stringify(event.command.error)}`);
    return performance.now() - start;
  }
  throw new Error("no result for run");
}

/** The peer: ssh localhost when it works without a prompt, else the same script spawned here under setsid. */
function peer(dir) {
  const ssh = spawnSync("ssh", ["-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "localhost", "true"], {
    stdio: "ignore",
  });
  const [file, args, name] =
    ssh.status === 0
      ? ["ssh", ["-o", "BatchMode=yes", "localhost", "true"], "`ssh localhost true` (peer)"]
      : ["setsid", ["/bin/sh", join(dir, "trivial.sh")], "`setsid sh trivial.sh` spawned locally (peer)"];
  const once = () =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      const child = spawn(file, args, { stdio: ["ignore", "pipe", "ignore"] });
      child.stdout.resume();
      child.once("error", reject);
      child.once("close", (code) =>
        code === 0 ? resolve(performance.now() - start) : reject(new Error(`${file} ${code}`)),
      );
    });
  return { name, once };
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "200" } } });
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(tmpdir(), "custody-run-bench-"));
  const children = [];
  try {
    const server = await startJsonChild(new URL(import.meta.url).pathname, ["custody", dir]);
    children.push(server.child);
    const identityPem = readFileSync(join(dir, "bench.pem"), "utf8");
    writeFileSync(join(dir, "ca.pem"), readFileSync(join(dir, "vault", "pki", "ca.pem")));
    const token = readFileSync(join(dir, "token.txt"), "utf8");
    const enrollArgs = ["agent", "enroll", "--server", server.url, "--token", token, "--dir", "agent"];
    const { deviceId } = JSON.parse(custody(dir, [...enrollArgs, "--ca", "ca.pem", "--json"]));
    writeFileSync(join(dir, "policy.json"), custody(dir, ["agent", "policy"]), { mode: 0o600 });
    const agent = spawn(
      process.execPath,
      [bin, "agent", "run", "--dir", join(dir, "agent"), "--policy", join(dir, "policy.json")],
      {
        stdio: "ignore",
        env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" },
      },
    );
    children.push(agent);
    const { createVaultClient, createLiveClient } = await import(dist("client"));
    const vault = createVaultClient({ baseUrl: server.url, identityPem });
    const live = createLiveClient({ baseUrl: server.url, identityPem });
    for (let i = 0; !(await vault.listDevices()).find((d) => d.deviceId === deviceId)?.online; i++) {
      if (i > 400) throw new Error("the agent never connected");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const session = await live.openSession(deviceId, "BENCH");
    const run = await series(runs, () => roundTrip(live, session.id));
    const local = peer(dir);
    const base = await series(runs, local.once);
    await live.closeSession(session.id);
    vault.close();
    live.close();
    const ms = (value) => value.toFixed(2);
    console.log(`load: ${execSync("uptime").toString().trim()}`);
    console.log(`${runs} of each after 20 warm-up; one session, one real agent process\n`);
    console.log("| what | p50 ms | p99 ms | p50 / peer p50 |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const [name, s] of [
      ["`run trivial.sh` (signed; verified on the device; stdout stored as an item)", run],
      [local.name, base],
    ])
      console.log(`| ${name} | ${ms(s.p50)} | ${ms(s.p99)} | ${(s.p50 / base.p50).toFixed(1)}x |`);
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", resolve);
            child.kill("SIGTERM");
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "custody") await custodyChild(process.argv[3]);
else await main();
