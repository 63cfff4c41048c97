#!/usr/bin/env node
// RFC 3161 timestamp benchmark. Run after `pnpm exec tsc -b` (it uses the built dist/):
//   node scripts/bench/timestamp.mjs [--runs 100] [--key-bits 3072]
// A local TSA (`openssl ts -reply` behind an HTTP server on 127.0.0.1, as the tests use) answers. It
// measures the time a token adds to signing a ~1 MB package manifest and an audit checkpoint (median and
// p99 of signing with the token minus without), verification with and without the token, and, as the peer,
// the same round trip made by `openssl ts -query` + `curl` + `openssl ts -verify` processes.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { verifyCheckpointSignature } from "../../packages/audit/dist/index.js";
import { canonicalJsonBytes } from "../../packages/core/dist/index.js";
import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
  ManifestBuilder,
  serializeManifest,
  timestampingSigner,
  verifyDetached,
} from "../../packages/manifest/dist/index.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "100" }, "key-bits": { type: "string", default: "3072" } },
});
const RUNS = Number(values.runs);
const KEY_BITS = Number(values["key-bits"]);

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const p99 = (xs) => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)];
async function samples(runs, fn) {
  await fn(); // warm-up
  const out = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await fn();
    out.push(performance.now() - start);
  }
  return out;
}

const ossl = (cwd, ...args) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
// the TSA answers from this process's event loop: the peer's processes must not block it
const run = promisify(execFile);

function tsaPki(dir) {
  const ext = `[ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash
[tsa]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,nonRepudiation
extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n`;
  const cnf = `[tsa]\ndefault_tsa=t\n[t]\nserial=${dir}/serial\ncrypto_device=builtin\nsigner_cert=${dir}/tsa.pem
certs=${dir}/tsa-ca.pem\nsigner_key=${dir}/tsa.key\nsigner_digest=sha256\ndefault_policy=1.3.6.1.4.1.99999.1.1
digests=sha256\naccuracy=secs:1\ness_cert_id_alg=sha256\n`;
  spawnSync(
    "sh",
    ["-c", `printf '%s' "$0" > ext.cnf; printf '%s' "$1" > tsa.cnf; echo 01 > serial`, ext, cnf],
    {
      cwd: dir,
    },
  );
  ossl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:3072",
    "-nodes",
    "-keyout",
    "tsa-ca.key",
    "-out",
    "tsa-ca.pem",
    "-subj",
    "/CN=Bench TSA CA",
    "-days",
    "30",
    "-config",
    "ext.cnf",
    "-extensions",
    "ca",
  );
  ossl(
    dir,
    "req",
    "-new",
    "-newkey",
    "rsa:3072",
    "-nodes",
    "-keyout",
    "tsa.key",
    "-out",
    "tsa.csr",
    "-subj",
    "/CN=Bench TSA",
    "-config",
    "ext.cnf",
  );
  ossl(
    dir,
    "x509",
    "-req",
    "-in",
    "tsa.csr",
    "-CA",
    "tsa-ca.pem",
    "-CAkey",
    "tsa-ca.key",
    "-set_serial",
    "7",
    "-days",
    "30",
    "-extfile",
    "ext.cnf",
    "-extensions",
    "tsa",
    "-out",
    "tsa.pem",
  );
}

// one openssl at a time: it increments its serial file
function startTsa(dir) {
  let queue = Promise.resolve();
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      queue = queue.then(async () => {
        const id = randomBytes(6).toString("hex");
        await writeFile(join(dir, `${id}.tsq`), Buffer.concat(chunks));
        ossl(dir, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", `${id}.tsq`, "-out", `${id}.tsr`);
        const body = await readFile(join(dir, `${id}.tsr`));
        response.writeHead(200, { "content-type": "application/timestamp-reply" }).end(body);
      });
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function manifestOfAbout(bytes) {
  const builder = new ManifestBuilder({
    name: "bench-package",
    device: { id: "ws-0042" },
    collector: { operator: "alice", tool: "custody", toolVersion: "0.1.0", host: "ir-01" },
    createdAt: new Date("2026-01-01T00:00:00Z"),
  });
  const hex = (i, n) => i.toString(16).padStart(n, "0");
  for (let i = 0; builder.count * 200 < bytes; i += 1) {
    builder.addItem({
      path: `data/P/${hex(i, 8)}.pf`,
      size: i,
      sha256: hex(i, 64),
      collectedAt: "2026-01-01T00:00:00.000Z",
    });
  }
  return serializeManifest(builder.build());
}

const dir = await mkdtemp(join(tmpdir(), "custody-tsa-bench-"));
let server;
try {
  tsaPki(dir);
  server = await startTsa(dir);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const tsaCa = await readFile(join(dir, "tsa-ca.pem"), "utf8");
  const ca = await createCertificateAuthority({ commonName: "Bench CA", keyBits: KEY_BITS });
  const collector = await issueCertificate(ca, {
    commonName: "collector",
    usage: "collector",
    keyBits: KEY_BITS,
  });
  const vaultSigner = await issueCertificate(ca, {
    commonName: "vault",
    usage: "vault-signer",
    keyBits: KEY_BITS,
  });
  const authorities = [{ url, trust: { trustAnchors: [tsaCa] } }];
  const plain = (leaf) => createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  const stamped = (leaf) => timestampingSigner(plain(leaf), { authorities });

  const manifest = manifestOfAbout(1024 * 1024);
  const checkpoint = () =>
    canonicalJsonBytes({
      format: "custody.audit.checkpoint/v1",
      treeSize: 1000,
      rootHash: randomBytes(32).toString("hex"),
      time: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      prevCheckpoint: null,
    });
  const rows = [];
  const added = async (what, leaf, bytes) => {
    const without = await samples(RUNS, () => plain(leaf).sign(bytes()));
    const withToken = await samples(RUNS, () => stamped(leaf).sign(bytes()));
    rows.push([`${what}: sign`, median(without), p99(without)]);
    rows.push([`${what}: sign + token`, median(withToken), p99(withToken)]);
    rows.push([
      `${what}: time the token adds`,
      median(withToken) - median(without),
      p99(withToken) - p99(without),
    ]);
  };
  await added("package manifest (1 MB)", collector, () => manifest);
  await added("audit checkpoint", vaultSigner, checkpoint);

  const trust = { trustAnchors: [ca.certificatePem] };
  const withTsa = { ...trust, timestamp: { trustAnchors: [tsaCa], required: true } };
  const signature = await stamped(collector).sign(manifest);
  const verifyPlain = await samples(RUNS, () => verifyDetached(manifest, signature, trust));
  const verifyToken = await samples(RUNS, () => verifyDetached(manifest, signature, withTsa));
  rows.push(["verify manifest signature (token not checked)", median(verifyPlain), p99(verifyPlain)]);
  rows.push(["verify manifest signature + token", median(verifyToken), p99(verifyToken)]);
  const cpBytes = checkpoint();
  const cp = {
    checkpoint: JSON.parse(cpBytes.toString()),
    bytes: cpBytes,
    signature: await stamped(vaultSigner).sign(cpBytes),
  };
  const cpVerify = await samples(RUNS, () => verifyCheckpointSignature(cp, withTsa));
  rows.push(["verify checkpoint signature + token", median(cpVerify), p99(cpVerify)]);

  // the peer: the same token round trip with openssl and curl processes
  await writeFile(join(dir, "data.bin"), manifest);
  const peer = await samples(Math.min(RUNS, 30), async () => {
    await run("openssl", ["ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "p.tsq"], {
      cwd: dir,
    });
    const post = [
      "-s",
      "-H",
      "content-type: application/timestamp-query",
      "--data-binary",
      "@p.tsq",
      "-o",
      "p.tsr",
      url,
    ];
    await run("curl", post, { cwd: dir });
    await run("openssl", ["ts", "-verify", "-data", "data.bin", "-in", "p.tsr", "-CAfile", "tsa-ca.pem"], {
      cwd: dir,
    });
  });
  const ours = await samples(Math.min(RUNS, 30), () => stamped(collector).sign(manifest));
  rows.push(["peer: openssl ts -query + curl + openssl ts -verify (processes)", median(peer), p99(peer)]);
  rows.push(["custody sign + token (same data, same TSA)", median(ours), p99(ours)]);

  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  process.stdout.write(`runs ${RUNS}, RSA ${KEY_BITS}, TSA RSA 3072, Node ${process.version}\n\n`);
  process.stdout.write("| what | median | p99 |\n|---|---:|---:|\n");
  for (const [what, m, p] of rows) process.stdout.write(`| ${what} | ${fmt(m)} | ${fmt(p)} |\n`);
  process.stdout.write(
    `\nratio custody sign+token / openssl+curl round trip (median): ${(median(ours) / median(peer)).toFixed(2)}\n`,
  );
} finally {
  server?.close();
  await rm(dir, { recursive: true, force: true });
}
