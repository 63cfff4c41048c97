#!/usr/bin/env node
// getfile end to end: a real agent process reads a file, PUTs it over mutual TLS to `custody serve`, which
// streams it into the vault create-only under the fileinfo sha256 (the store's own, the size checked) and
// audits it; timed from the submit to the command's result. The peer: curl fetching the same file from a
// minimal Node HTTPS server on loopback (same TLS 1.3, client certificate) and writing it to disk.
// The fileinfo prerequisite (one sha256 read on the device) runs first and is timed apart. Uses dist/.
// Each run takes a new copy of the file (another case, another session) and curl fetches it once; the runs
// alternate curl and getfile so a change in the machine's load hits both. Over 750 MiB (the default
// limit), the server's and the agent's getfile limits are raised to the size for the run. CPU seconds
// (user + system, from /proc and /usr/bin/time) are printed beside the wall clock: the peer's are its Node
// server's and curl's, ours the server's and the agent's; load on a shared machine moves them far less.
// A third row, the floor (lib/getfile-floor.mjs), moves the file with the issue's properties and nothing
// else, between two bare Node processes: hashed on the device while read, PUT over mutual TLS, hashed
// while written, fdatasynced. What getfile costs over it is custody's; what it costs over curl is Node's.
//   node scripts/bench/live-getfile.mjs [--size-mib 1024] [--runs 3] [--prof DIR] [--floor-parts]
//   (--floor-parts: the floor also without its hashes and its sync, to see what each costs)
//   (--prof: `node --cpu-prof` profiles of the server and the agent into DIR)
import { execSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startFloor } from "./lib/getfile-floor.mjs";
import { connectedAgent, result } from "./lib/live.mjs";
import { cpuSeconds, startPeer, startServerChild, writeRandom } from "./lib/server.mjs";

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
    prof: { type: "string" },
    "floor-parts": { type: "boolean", default: false },
  },
});
const sizeMiB = Number(values["size-mib"]);
const runs = Number(values.runs);
const limitBytes = Math.max(750, sizeMiB) * 1024 * 1024;
const prof = values.prof === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", values.prof];
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

async function run(live, sessionId, line, pids) {
  const cpu = await Promise.all(pids.map((pid) => cpuSeconds(pid)));
  const start = performance.now();
  const entry = await live.submit(sessionId, line);
  const done = await result(live, entry.id);
  if (done.status !== "completed") throw new Error(`${line}: ${done.status} ${JSON.stringify(done.error)}`);
  const ms = performance.now() - start;
  const each = await Promise.all(pids.map(async (pid, i) => (await cpuSeconds(pid)) - (cpu[i] ?? 0)));
  return { ms, cpu: each.reduce((sum, used) => sum + used, 0), each, done };
}

const server = await startServerChild(base, { BENCH_MAX_GETFILE_BYTES: String(limitBytes) }, prof);
try {
  const file = join(base, "evidence.bin");
  await writeRandom(file, sizeMiB);
  const { vault, live, deviceId, agent } = await connectedAgent(server, base, {
    limitBytes,
    nodeArgs: prof,
    children,
  });
  spawnSync("cat", [file], { stdio: ["ignore", "ignore", "inherit"] }); // the page cache holds it for every run

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
  const floorDir = join(base, "floor");
  await mkdir(floorDir);
  const floorTls = {
    serverKey: join(base, "vault", "server", "tls.key"),
    serverCert: join(base, "vault", "server", "tls.pem"),
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
  };
  const floor = await startFloor(floorDir, floorTls);
  children.push(...floor.children);
  const partial = {};
  for (const parts of values["floor-parts"] ? ["", "sync", "hash"] : []) {
    partial[parts] = await startFloor(floorDir, floorTls, parts);
    children.push(...partial[parts].children);
  }
  const floorOnce = async (through = floor) => {
    const cpu = await Promise.all(through.pids.map((pid) => cpuSeconds(pid)));
    const start = performance.now();
    await through.fetch(file);
    const ms = performance.now() - start;
    const each = await Promise.all(
      through.pids.map(async (pid, i) => (await cpuSeconds(pid)) - (cpu[i] ?? 0)),
    );
    await rm(floorDir, { recursive: true, force: true });
    await mkdir(floorDir);
    return { ms, cpu: each[0] + each[1] };
  };
  const curlOnce = async () => {
    const times = join(base, "curl-times.txt");
    const peerCpu = await cpuSeconds(peer.pid);
    const start = performance.now();
    const curl = spawnSync("/usr/bin/time", [
      "-f",
      "%U %S",
      "-o",
      times,
      "curl",
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
    const ms = performance.now() - start;
    if (curl.status !== 0) throw new Error(`curl: ${curl.stderr}`);
    const [user, sys] = (await readFile(times, "utf8")).trim().split(/\s+/).slice(-2).map(Number);
    return { ms, cpu: (await cpuSeconds(peer.pid)) - peerCpu + (user ?? 0) + (sys ?? 0) };
  };

  const loads = [execSync("uptime").toString().trim()];
  const rows = [];
  for (let i = 1; i <= runs; i++) {
    const curl = await curlOnce();
    // each run stores the file again, as an item of another case (an item is create-only per case)
    const session = await live.openSession(deviceId, `BENCH-${i}`);
    const fileinfo = await run(live, session.id, `fileinfo ${file}`, [agent.pid]);
    const getfile = await run(live, session.id, `getfile ${file}`, [server.pid, agent.pid]);
    const bare = await floorOnce();
    const parts = {};
    for (const [name, through] of Object.entries(partial)) parts[name] = await floorOnce(through);
    await live.closeSession(session.id);
    await rm(join(base, "peer.bin"), { force: true });
    rows.push({
      curlMs: curl.ms,
      curlCpu: curl.cpu,
      getfileMs: getfile.ms,
      getfileCpu: getfile.cpu,
      serverCpu: getfile.each[0],
      agentCpu: getfile.each[1],
      fileinfoMs: fileinfo.ms,
      fileinfoCpu: fileinfo.cpu,
      itemId: getfile.done.itemId,
      floorMs: bare.ms,
      floorCpu: bare.cpu,
      parts,
    });
  }
  loads.push(execSync("uptime").toString().trim());

  const s = (ms) => (ms / 1000).toFixed(2);
  const mibs = (ms) => (sizeMiB / (ms / 1000)).toFixed(0);
  console.log(`${sizeMiB} MiB of random bytes on loopback, ${runs} runs`);
  console.log(`load before: ${loads[0]}\nload after:  ${loads[1]}\n`);
  console.log(
    "| run | curl s (MiB/s) | getfile s (MiB/s) | getfile / curl | CPU s: peer / ours (server + agent) | fileinfo before it: s, agent CPU s | floor s, / curl, CPU s |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  rows.forEach((r, i) => {
    console.log(
      `| ${i + 1} | ${s(r.curlMs)} (${mibs(r.curlMs)}) | ${s(r.getfileMs)} (${mibs(r.getfileMs)}) | ${(r.getfileMs / r.curlMs).toFixed(2)}× | ${r.curlCpu.toFixed(2)} / ${r.getfileCpu.toFixed(2)} (${r.serverCpu.toFixed(2)} + ${r.agentCpu.toFixed(2)}) | ${s(r.fileinfoMs)}, ${r.fileinfoCpu.toFixed(2)} | ${s(r.floorMs)}, ${(r.floorMs / r.curlMs).toFixed(2)}×, ${r.floorCpu.toFixed(2)} |`,
    );
  });
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const ratios = rows.map((r) => r.getfileMs / r.curlMs);
  const curls = rows.map((r) => r.curlMs);
  const getfiles = rows.map((r) => r.getfileMs);
  const cpus = (key) => median(rows.map((r) => r[key])).toFixed(2);
  console.log(
    `\ncurl min ${s(Math.min(...curls))} s, median ${s(median(curls))} s; getfile min ${s(Math.min(...getfiles))} s, median ${s(median(getfiles))} s`,
  );
  console.log(
    `getfile / curl: per run min ${Math.min(...ratios).toFixed(2)}×, median ${median(ratios).toFixed(2)}×; ` +
      `min / min ${(Math.min(...getfiles) / Math.min(...curls)).toFixed(2)}× (items ${[...new Set(rows.map((r) => r.itemId))].join(", ")})`,
  );
  const floors = rows.map((r) => r.floorMs / r.curlMs);
  console.log(
    `floor / curl: per run min ${Math.min(...floors).toFixed(2)}×, median ${median(floors).toFixed(2)}×; getfile / floor median ${median(rows.map((r) => r.getfileMs / r.floorMs)).toFixed(2)}×`,
  );
  for (const name of Object.keys(partial)) {
    const ms = median(rows.map((r) => r.parts[name].ms));
    const cpu = median(rows.map((r) => r.parts[name].cpu));
    console.log(
      `floor with ${name === "" ? "neither hash nor sync" : `${name} only`}: median ${s(ms)} s, ${median(rows.map((r) => r.parts[name].ms / r.curlMs)).toFixed(2)}× curl, CPU ${cpu.toFixed(2)} s`,
    );
  }
  console.log(
    `CPU s, median: floor ${cpus("floorCpu")}, peer ${cpus("curlCpu")}, getfile ${cpus("getfileCpu")} (server ${cpus("serverCpu")}, agent ${cpus("agentCpu")}), fileinfo (agent) ${cpus("fileinfoCpu")}`,
  );
  vault.close();
  live.close();
} finally {
  for (const child of children) child.kill("SIGTERM");
  await server.stop();
  await rm(base, { recursive: true, force: true });
}
