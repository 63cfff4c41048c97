#!/usr/bin/env node
// Upload benchmark of @custody/client against curl, to the same minimal mutual-TLS Node server.
//   pnpm exec tsc -b packages/client && node scripts/bench/client.mjs [--mib 1024] [--runs 3]
// The server (its own process) streams the body to a file on disk and hashes it (so it can answer with
// the item the client checks); both uploaders pay for that the same way. Peers, each its own process:
//   curl -T FILE -X POST (streams the file; --data-binary @FILE would first read it all into memory)
//   client: createVaultClient().ingest (hashes while sending: one read of the file)
//   client, digest first: sha256 of the file, then the same upload (what sending x-custody-sha256 costs)
//   custody --server ingest: the CLI against a real `custody serve` on a fresh vault (the figure:
//   it adds the server's spooling, the vault's three digests and its write-once copy to the same upload)
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { values } = parseArgs({
  allowPositionals: true,
  options: {
    mib: { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
    serve: { type: "string" }, // internal: child mode, the PKI directory
    upload: { type: "string" }, // internal: child mode, "stream" | "digest-first"
  },
});
const MiB = 1024 * 1024;

if (values.serve !== undefined) await serve(values.serve);
else if (values.upload !== undefined) await upload(values.upload);
else await main();

function pki(dir) {
  const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:3072",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    "/CN=bench CA",
    "-days",
    "1",
  );
  const leaf = (name, ext) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      "req",
      "-new",
      "-newkey",
      "rsa:3072",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    );
  };
  leaf("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("alice", "extendedKeyUsage=clientAuth\n");
  const read = (name) => readFileSync(join(dir, name), "utf8").trim();
  writeFileSync(join(dir, "identity.pem"), `${read("alice.pem")}\n${read("alice.key")}\n${read("ca.pem")}\n`);
}

async function serve(dir) {
  const read = (name) => readFileSync(join(dir, name));
  let n = 0;
  const server = createServer(
    {
      cert: read("server.pem"),
      key: read("server.key"),
      ca: read("ca.pem"),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
    },
    async (req, res) => {
      const hash = createHash("sha256");
      let size = 0;
      req.on("data", (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      });
      await pipeline(req, createWriteStream(join(dir, `upload-${n++}.bin`)));
      const id = hash.digest("hex");
      const item = {
        format: "custody.item/v1",
        id,
        kind: "file",
        caseId: "BENCH",
        name: "upload",
        labels: {},
        size,
        digests: { sha256: id },
        acquisition: {},
        legalHold: false,
        storedAt: new Date().toISOString(),
      };
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify(item));
    },
  );
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
}

async function upload(mode) {
  const [url, identity, file] = process.argv.slice(-3);
  const { createVaultClient } = await import(join(repo, "packages/client/dist/index.js"));
  if (mode === "digest-first") {
    const hash = createHash("sha256");
    await pipeline(createReadStream(file), hash);
  }
  const client = createVaultClient({ baseUrl: url, identityPem: readFileSync(identity, "utf8") });
  await client.ingest(file, { caseId: "BENCH" });
  client.close();
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "inherit"] });
    child.on("exit", (code) =>
      code === 0
        ? resolve(Number(process.hrtime.bigint() - start) / 1e6)
        : reject(new Error(`${command} exited ${code}`)),
    );
  });
}

async function main() {
  const mib = Number(values.mib);
  const dir = await mkdtemp(join(tmpdir(), "custody-bench-client-"));
  try {
    pki(dir);
    const file = join(dir, "payload.bin");
    const out = createWriteStream(file);
    const block = randomBytes(MiB);
    for (let i = 0; i < mib; i++) if (!out.write(block)) await new Promise((r) => out.once("drain", r));
    await new Promise((r) => out.end(r));
    const server = spawn(process.execPath, [fileURLToPath(import.meta.url), "--serve", dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise((resolve) => server.stdout.once("data", (d) => resolve(String(d).trim())));
    const url = `https://127.0.0.1:${port}`;
    const peers = {
      curl: () =>
        run("curl", [
          "-sS",
          "--fail",
          "-o",
          "/dev/null",
          "--tlsv1.3",
          "--cacert",
          join(dir, "ca.pem"),
          "--cert",
          join(dir, "alice.pem"),
          "--key",
          join(dir, "alice.key"),
          "-H",
          "content-type: application/octet-stream",
          "-X",
          "POST",
          "-T",
          file,
          `${url}/v1/items?case=BENCH`,
        ]),
      client: () =>
        run(process.execPath, [
          fileURLToPath(import.meta.url),
          "--upload",
          "stream",
          url,
          join(dir, "identity.pem"),
          file,
        ]),
      "client, digest first": () =>
        run(process.execPath, [
          fileURLToPath(import.meta.url),
          "--upload",
          "digest-first",
          url,
          join(dir, "identity.pem"),
          file,
        ]),
      "custody --server ingest": (r) =>
        run(process.execPath, [
          custody,
          "ingest",
          file,
          "--case",
          `BENCH-${r}`, // the same bytes once per case
          "--kind",
          "file",
          "--server",
          servedUrl,
          "--identity",
          join(dir, "owner.pem"),
        ]),
    };
    process.on("exit", () => server.kill());
    const custody = join(repo, "packages/cli/dist/bin.js");
    const vault = join(dir, "vault");
    execFileSync(
      process.execPath,
      [custody, "init", "--vault", vault, "--name", "bench", "--identity-out", join(dir, "owner.pem")],
      { stdio: "ignore" },
    );
    const served = spawn(
      process.execPath,
      [custody, "serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" } },
    );
    process.on("exit", () => served.kill());
    const servedUrl = await new Promise((resolve) => {
      let text = "";
      served.stderr.on("data", (d) => {
        text += d;
        const found = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(text);
        if (found) resolve(found[1]);
      });
    });
    const times = Object.fromEntries(Object.keys(peers).map((k) => [k, []]));
    for (let r = 0; r < Number(values.runs); r++)
      for (const [name, go] of Object.entries(peers)) times[name].push(await go(r));
    server.kill();
    // The server closes the vault (a signed checkpoint) before the folder goes.
    await new Promise((resolve) => {
      served.once("exit", resolve);
      served.kill("SIGTERM");
    });
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const base = median(times.curl);
    process.stdout.write(
      `Upload of ${mib} MiB over mutual TLS 1.3 to one minimal Node server on 127.0.0.1 (median of ${values.runs}):\n\n`,
    );
    process.stdout.write("| uploader | time | MiB/s | vs curl |\n|---|---|---|---|\n");
    for (const [name, xs] of Object.entries(times)) {
      const ms = median(xs);
      process.stdout.write(
        `| ${name} | ${(ms / 1000).toFixed(2)} s | ${((mib * 1000) / ms).toFixed(0)} | ${(ms / base).toFixed(2)}× |\n`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
