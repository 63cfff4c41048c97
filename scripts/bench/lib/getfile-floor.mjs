// The floor of getfile: what the properties cost with nothing of custody around them, in two bare
// Node processes. A device-side client reads the file, hashes it with sha256 while reading and PUTs it over
// mutual TLS 1.3; the server hashes the body while writing it to a new file, fdatasyncs it and answers with
// the digest, which the client compares with its own. No vault, audit, protocol, queue or stream stage: any
// getfile built in Node on two processes pays at least this much.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { startPeer } from "./server.mjs";

const SERVER = `
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { createServer } from "node:https";
import { readFileSync } from "node:fs";
const [dir, key, cert, ca, parts] = process.argv.slice(1);
const hashing = parts.includes("hash");
const syncing = parts.includes("sync");
let n = 0;
const server = createServer({ key: readFileSync(key), cert: readFileSync(cert), ca: readFileSync(ca), requestCert: true,
  rejectUnauthorized: true, minVersion: "TLSv1.3" }, async (req, res) => {
  const file = await open(dir + "/floor-" + n++ + ".bin", "wx", 0o444);
  const hash = createHash("sha256");
  let writing = Promise.resolve();
  for await (const chunk of req) {
    if (hashing) hash.update(chunk);
    await writing;
    writing = file.write(chunk).then(() => undefined);
  }
  await writing;
  if (syncing) await file.datasync();
  await file.close();
  res.end(hash.digest("hex"));
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

const CLIENT = `
import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { createInterface } from "node:readline";
const [port, key, cert, ca, parts] = process.argv.slice(1);
const hashing = parts.includes("hash");
const agent = new Agent({ keepAlive: true, key: readFileSync(key), cert: readFileSync(cert), ca: readFileSync(ca), minVersion: "TLSv1.3" });
for await (const path of createInterface({ input: process.stdin })) {
  const hash = createHash("sha256");
  const answer = await new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: Number(port), method: "PUT", path: "/", agent }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => { body += d; }).on("end", () => resolve(body));
    });
    req.on("error", reject);
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    if (hashing) file.on("data", (chunk) => hash.update(chunk));
    file.pipe(req);
  });
  const digest = hash.digest("hex");
  if (hashing && answer !== digest) throw new Error("the floor server's digest differs: " + answer);
  process.stdout.write(digest + "\\n");
}
`;

/**
 * Starts the floor's server (writing into `dir`) and client; `fetch(path)` moves one file through them and
 * resolves with its sha256. `tls`: the server's key and certificate, the client's, and the CA of both.
 * `parts` (default all): "hash" (both ends) and "sync", to see what each property costs.
 */
export async function startFloor(dir, tls, parts = "hash,sync") {
  const { child: server, port } = await startPeer(SERVER, [
    dir,
    tls.serverKey,
    tls.serverCert,
    tls.ca,
    parts,
  ]);
  const client = spawn(
    process.execPath,
    ["--input-type=module", "-e", CLIENT, String(port), tls.key, tls.cert, tls.ca, parts],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
  return {
    pids: [server.pid, client.pid],
    children: [server, client],
    async fetch(path) {
      client.stdin.write(`${path}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error("the floor client ended");
      return value;
    },
  };
}
