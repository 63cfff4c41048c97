#!/usr/bin/env node
// Benchmark: the whole collection of this machine with @custody/collect (built dist/) against a
// shell-based collector that spawns one process per artifact and hashes afterwards.
// Run: pnpm exec tsc -b packages/collect && node scripts/bench/collect.mjs [--runs N]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = new URL("../../packages/collect/dist/index.js", import.meta.url);
const option = (name, fallback) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const runs = option("--runs", 3);
// The shell baseline takes a minute or more per run on a busy /tmp: once by default.
const baselineRuns = option("--baseline-runs", 1);

if (process.argv.includes("--child")) {
  // One collection in a fresh process, so peak RSS is this collection's alone.
  const { collectDevice, directorySink, packageWriterSink, deviceIdentity } = await import(dist.href);
  const out = process.argv[process.argv.indexOf("--child") + 1];
  const asPackage = process.argv.includes("--package");
  let writer;
  if (asPackage) {
    // The real thing: every item streamed into a signed ZIP package (archive + manifest dist/).
    const archive = await import(new URL("../../packages/archive/dist/index.js", import.meta.url).href);
    const manifest = await import(new URL("../../packages/manifest/dist/index.js", import.meta.url).href);
    const ca = await manifest.createCertificateAuthority({ commonName: "bench CA", keyBits: 2048 });
    const cert = await manifest.issueCertificate(ca, { commonName: "bench", usage: "signer" });
    const signer = manifest.createKeySigner({ keyPem: cert.keyPem, certificatePem: cert.certificatePem });
    writer = archive.createPackageWriter(join(out, "bench.zip"), {
      name: "bench",
      device: await deviceIdentity(),
      collector: { operator: "bench", tool: "bench", toolVersion: "0", host: "bench" },
      signer,
    });
  }
  const started = performance.now();
  const result = await collectDevice({ sink: asPackage ? packageWriterSink(writer) : directorySink(out) });
  if (asPackage) {
    writer.setCollectionSummary(result.rows);
    await writer.finalize();
  }
  const totalMs = performance.now() - started;
  process.stdout.write(
    JSON.stringify({ totalMs, maxRssKiB: process.resourceUsage().maxRSS, rows: result.rows }),
  );
  process.exit(0);
}

// The peer: what a shell triage script does, one process per artifact, hashing at the end.
const BASELINE = String.raw`
set -u
out="$1"; T="$out.times"; mark() { echo "$1 $(date +%s%N)" >> "$T"; }
mark start
mkdir -p "$out/net" "$out/proc" "$out/users" "$out/temp" "$out/sys" "$out/sched" "$out/logs"
ss -tanp > "$out/net/tcp.txt" 2>/dev/null; ss -uanp > "$out/net/udp.txt" 2>/dev/null
cat /proc/net/arp > "$out/net/arp.txt"; cat /proc/net/route > "$out/net/route.txt"
for f in /etc/resolv.conf /etc/hosts /etc/nsswitch.conf; do cat "$f" > "$out/net/$(basename "$f")" 2>/dev/null; done
mark network
ps -eo pid,ppid,user,lstart,args > "$out/proc/ps.txt"
for p in /proc/[0-9]*; do
  exe=$(readlink "$p/exe" 2>/dev/null) || continue
  echo "$(basename "$p") $exe $(sha256sum "$p/exe" 2>/dev/null | cut -d' ' -f1)" >> "$out/proc/exe-hashes.txt"
done
mark processes
for f in /etc/passwd /etc/group /etc/sudoers; do cat "$f" > "$out/users/$(basename "$f")" 2>/dev/null; done
for d in /tmp /var/tmp /dev/shm; do find "$d" -xdev -exec stat -c '%n|%s|%U|%a|%y|%x|%z' {} \; > "$out/temp/$(echo "$d" | tr / _).txt" 2>/dev/null; done
mark temp-listing
uname -a > "$out/sys/uname.txt"; cat /etc/os-release > "$out/sys/os-release.txt"; cat /proc/cpuinfo > "$out/sys/cpuinfo.txt"
cat /proc/meminfo > "$out/sys/meminfo.txt"; uptime > "$out/sys/uptime.txt"
dpkg-query -W > "$out/sys/packages.txt" 2>/dev/null
systemctl list-unit-files --no-pager > "$out/sys/units.txt" 2>/dev/null
for f in /etc/crontab /etc/cron.d/* /etc/cron.daily/* /var/spool/cron/crontabs/*; do [ -f "$f" ] && cat "$f" >> "$out/sched/cron.txt"; done
last -f /var/log/wtmp > "$out/logs/wtmp.txt" 2>/dev/null; lastb -f /var/log/btmp > "$out/logs/btmp.txt" 2>/dev/null
for f in /var/log/auth.log /var/log/secure; do [ -f "$f" ] && cat "$f" > "$out/logs/$(basename "$f")"; done
for u in /root /home/*; do for h in .bash_history .zsh_history .bashrc .profile .ssh/authorized_keys; do [ -f "$u/$h" ] && cat "$u/$h" > "$out/users/$(basename "$u")-$(basename "$h")"; done; done
mark rest
find "$out" -type f -exec sha256sum {} \; > "$out.sha256"
mark hash-afterwards
`;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function runOurs(asPackage) {
  const out = mkdtempSync(join(tmpdir(), "bench-collect-"));
  try {
    const args = [fileURLToPath(import.meta.url), "--child", out, ...(asPackage ? ["--package"] : [])];
    const child = spawnSync(process.execPath, args, {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (child.status !== 0) throw new Error(child.stderr);
    return JSON.parse(child.stdout);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function runBaseline() {
  const dir = mkdtempSync(join(tmpdir(), "bench-shell-"));
  const script = join(dir, "collect.sh");
  writeFileSync(script, BASELINE);
  try {
    const started = performance.now();
    execFileSync("bash", [script, join(dir, "out")], { stdio: "ignore" });
    const totalMs = performance.now() - started;
    const processes = Number(
      execFileSync("bash", ["-c", `wc -l < ${join(dir, "out", "proc", "exe-hashes.txt")}`], {
        encoding: "utf8",
      }).trim(),
    );
    const marks = readFileSync(join(dir, "out.times"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const sections = marks
      .slice(1)
      .map(([name], i) => [name, (Number(marks[i + 1]?.[1]) - Number(marks[i]?.[1])) / 1e6]);
    return { totalMs, hashedExes: processes, sections };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ours = [];
const theirs = [];
for (let i = 0; i < runs; i++) ours.push(runOurs(false));
const packaged = [];
const canPackage = existsSync(new URL("../../packages/archive/dist/index.js", import.meta.url));
for (let i = 0; canPackage && i < runs; i++) packaged.push(runOurs(true));
for (let i = 0; i < baselineRuns; i++) theirs.push(runBaseline());
const last = ours[ours.length - 1];
console.log(
  `# collect benchmark: ${cpus().length} cores, ${runs} runs (baseline ${baselineRuns}), node ${process.version}, uid ${process.getuid?.()}`,
);
console.log("");
console.log("| data point | status | files | bytes | ms (last run) |");
console.log("|---|---|---:|---:|---:|");
for (const r of last.rows)
  console.log(
    `| ${r.dataPoint} | ${r.status}${r.errorCode ? ` (${r.errorCode})` : ""} | ${r.files} | ${r.bytes} | ${r.durationMs} |`,
  );
const oursMs = median(ours.map((o) => o.totalMs));
const theirsMs = median(theirs.map((t) => t.totalMs));
const peakMiB = Math.max(...ours.map((o) => o.maxRssKiB)) / 1024;
console.log("");
console.log("| collector | median wall time | peak RSS | ratio |");
console.log("|---|---:|---:|---:|");
console.log(
  `| @custody/collect (all 12 data points + run log, directory sink) | ${(oursMs / 1000).toFixed(2)} s | ${peakMiB.toFixed(0)} MiB | 1.0 |`,
);
if (packaged.length > 0) {
  const ms = median(packaged.map((o) => o.totalMs));
  const mib = Math.max(...packaged.map((o) => o.maxRssKiB)) / 1024;
  console.log(
    `| @custody/collect into a signed ZIP package (deflate, CMS signature, BagIt tag files) | ${(ms / 1000).toFixed(2)} s | ${mib.toFixed(0)} MiB | ${(ms / oursMs).toFixed(1)} |`,
  );
}
console.log(
  `| shell baseline (process per artifact, ${theirs[0].hashedExes} exe hashes, sha256sum afterwards) | ${(theirsMs / 1000).toFixed(2)} s | n/a | ${(theirsMs / oursMs).toFixed(1)}x slower |`,
);
console.log("");
console.log("| shell baseline section (last run) | ms |");
console.log("|---|---:|");
for (const [name, ms] of theirs[theirs.length - 1].sections) console.log(`| ${name} | ${ms.toFixed(0)} |`);
