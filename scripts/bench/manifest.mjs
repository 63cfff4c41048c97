#!/usr/bin/env node
// Manifest signing benchmark. Run after `pnpm exec tsc -b packages/manifest` (it uses the built dist/):
//   node scripts/bench/manifest.mjs [--runs 50] [--key-bits 3072]
// Signs and verifies a ~1 MB custody manifest in-process (medians), next to node-forge's own pure-JS
// signing and whole-process `openssl cms -sign` / `-verify` over the same file, and prints a markdown table.
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
  ManifestBuilder,
  parseManifest,
  serializeManifest,
  verifyDetached,
} from "../../packages/manifest/dist/index.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "50" }, "key-bits": { type: "string", default: "3072" } },
});
const RUNS = Number(values.runs);
const KEY_BITS = Number(values["key-bits"]);
const forge = createRequire(new URL("../../packages/manifest/package.json", import.meta.url))("node-forge");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(runs, fn) {
  await fn(); // warm-up
  const samples = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

function manifestOfAbout(bytes) {
  const builder = new ManifestBuilder({
    name: "bench-package",
    device: { id: "ws-0042", hostname: "ws-0042.corp.example", os: "Windows" },
    collector: { operator: "alice@example.org", tool: "custody", toolVersion: "0.1.0", host: "ir-01" },
    createdAt: new Date("2026-01-01T00:00:00Z"),
  });
  const hex = (i, n) => i.toString(16).padStart(n, "0");
  for (let i = 0; builder.count * 290 < bytes; i += 1) {
    builder.addItem({
      path: `data/Prefetch/APPLICATION-${hex(i, 8)}.EXE-${hex(i * 7919, 8)}.pf`,
      size: i * 1024,
      sha256: hex(i, 64),
      md5: hex(i, 32),
      collectedAt: "2026-01-01T00:00:00.000Z",
      dataPoint: "Prefetch",
      source: "%SystemRoot%\\Prefetch",
    });
  }
  return builder.build();
}

const dir = await mkdtemp(join(tmpdir(), "custody-manifest-bench-"));
try {
  const ca = await createCertificateAuthority({ commonName: "Bench CA", keyBits: KEY_BITS });
  const leaf = await issueCertificate(ca, { commonName: "bench signer", usage: "signer", keyBits: KEY_BITS });
  const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  const trust = { trustAnchors: [ca.certificatePem] };
  const bytes = serializeManifest(manifestOfAbout(1024 * 1024));
  const signature = await signer.sign(bytes);
  const files = { content: join(dir, "m.json"), sig: join(dir, "m.json.p7s"), ca: join(dir, "ca.pem") };
  await writeFile(files.content, bytes);
  await writeFile(files.sig, signature);
  await writeFile(files.ca, ca.certificatePem);
  await writeFile(join(dir, "leaf.pem"), leaf.certificatePem);
  await writeFile(join(dir, "leaf.key"), leaf.keyPem, { mode: 0o600 });

  const rows = [];
  const add = (what, ms) => rows.push({ what, ms });
  add("custody sign (forge layout + node:crypto RSA)", await time(RUNS, () => signer.sign(bytes)));
  add(
    "custody verifyDetached (node:crypto)",
    await time(RUNS, () => verifyDetached(bytes, signature, trust)),
  );
  add(
    "custody parseManifest (all hostile checks)",
    await time(Math.min(RUNS, 20), () => parseManifest(bytes)),
  );
  add("node-forge only: pkcs7 sign, pure-JS RSA (peer)", await time(3, () => forgeSign(bytes, leaf)));
  const openssl = (args) => () => {
    const result = spawnSync("openssl", args, { cwd: dir });
    if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  };
  const signArgs = [
    "cms",
    "-sign",
    "-binary",
    "-outform",
    "DER",
    "-md",
    "sha256",
    "-in",
    "m.json",
    "-signer",
    "leaf.pem",
    "-inkey",
    "leaf.key",
    "-out",
    "o.p7s",
  ];
  add("openssl cms -sign, whole process (peer)", await time(Math.min(RUNS, 20), openssl(signArgs)));
  const verifyArgs = [
    "cms",
    "-verify",
    "-binary",
    "-inform",
    "DER",
    "-content",
    "m.json",
    "-in",
    "m.json.p7s",
    "-CAfile",
    "ca.pem",
    "-purpose",
    "any",
    "-out",
    "/dev/null",
  ];
  add("openssl cms -verify, whole process (peer)", await time(Math.min(RUNS, 20), openssl(verifyArgs)));

  const [sign, verify] = rows;
  process.stdout.write(
    `manifest ${bytes.length} bytes, RSA ${KEY_BITS}, median of ${RUNS} runs, node ${process.version}\n\n`,
  );
  process.stdout.write(
    "| operation | median ms | vs custody sign | vs custody verify |\n|---|---:|---:|---:|\n",
  );
  for (const row of rows) {
    const ratio = (base) => `${(row.ms / base.ms).toFixed(1)}×`;
    process.stdout.write(`| ${row.what} | ${row.ms.toFixed(2)} | ${ratio(sign)} | ${ratio(verify)} |\n`);
  }
  const ok = sign.ms <= 5 && verify.ms <= 5;
  process.stdout.write(`\ntarget ≤ 5 ms median for sign and verify: ${ok ? "met" : "NOT met"}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

// What signing costs when forge does everything itself, RSA included.
function forgeSign(bytes, leaf) {
  const p7 = forge.pkcs7.createSignedData();
  p7.content = forge.util.createBuffer(bytes.toString("binary"));
  const certificate = forge.pki.certificateFromPem(leaf.certificatePem);
  p7.addCertificate(certificate);
  p7.addSigner({
    key: forge.pki.privateKeyFromPem(leaf.keyPem),
    certificate,
    digestAlgorithm: forge.pki.oids.sha256,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
      { type: forge.pki.oids.messageDigest },
      { type: forge.pki.oids.signingTime, value: new Date() },
    ],
  });
  p7.sign({ detached: true });
  return forge.asn1.toDer(p7.toAsn1()).getBytes();
}
