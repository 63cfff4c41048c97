import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A real RFC 3161 TSA for tests: `openssl ts -reply` behind an HTTP server on 127.0.0.1, with a CA of its
 * own. Paths other than /tsa misbehave on purpose (see `route`).
 */
export interface TestTsa {
  /** http://127.0.0.1:PORT */
  origin: string;
  url: string;
  dir: string;
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  policy: string;
  requests: number;
  /** While down, every path answers HTTP 503 (an outage the tests can end). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export const TSA_POLICY = "1.3.6.1.4.1.99999.1.1";

const EXTENSIONS = `
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_not_tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

function tsaConfig(dir: string): string {
  return `
[tsa]
default_tsa = tsa_config
[tsa_config]
dir = ${dir}
serial = ${join(dir, "tsaserial")}
crypto_device = builtin
signer_cert = ${join(dir, "tsa.pem")}
certs = ${join(dir, "tsa-ca.pem")}
signer_key = ${join(dir, "tsa.key")}
signer_digest = sha256
default_policy = ${TSA_POLICY}
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`;
}

export async function ossl(dir: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run("openssl", args, { cwd: dir, encoding: "utf8" });
    return stdout;
  } catch (error) {
    throw new Error(`openssl ${args.join(" ")}: ${(error as { stderr?: string }).stderr ?? error}`);
  }
}

/** A CA and a TSA certificate under it, made by openssl (`extensions` picks the TSA's profile). */
export async function makeTsaPki(dir: string, name: string, extensions = "v3_tsa"): Promise<void> {
  await writeFile(join(dir, "ext.cnf"), EXTENSIONS);
  await writeFile(join(dir, "tsaserial"), "01\n");
  await ossl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "tsa-ca.key",
    "-out",
    "tsa-ca.pem",
    "-subj",
    `/CN=${name} CA`,
    "-days",
    "3650",
    "-config",
    "ext.cnf",
    "-extensions",
    "v3_ca",
  );
  await ossl(
    dir,
    "req",
    "-new",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "tsa.key",
    "-out",
    "tsa.csr",
    "-subj",
    `/CN=${name}`,
    "-config",
    "ext.cnf",
  );
  await ossl(
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
    `0x${randomBytes(8).toString("hex")}`,
    "-days",
    "3650",
    "-extfile",
    "ext.cnf",
    "-extensions",
    extensions,
    "-out",
    "tsa.pem",
  );
  await writeFile(join(dir, "tsa.cnf"), tsaConfig(dir));
}

/** `openssl ts -reply` for a query file; one at a time, since openssl increments its serial file. */
export async function replyTo(dir: string, query: Buffer): Promise<Buffer> {
  const id = randomBytes(6).toString("hex");
  const queryFile = join(dir, `${id}.tsq`);
  const replyFile = join(dir, `${id}.tsr`);
  await writeFile(queryFile, query);
  await ossl(dir, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", queryFile, "-out", replyFile);
  return readFile(replyFile);
}

export async function startTestTsa(dir: string, name = "Test TSA"): Promise<TestTsa> {
  await makeTsaPki(dir, name);
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };
  const state = { requests: 0, down: false, first: undefined as Buffer | undefined };
  const server = createServer((request, response) => {
    state.requests += 1;
    const path = state.down ? "/down" : (request.url ?? "");
    void handle(request, response, (query) => serial(() => route(dir, path, query, state)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tsa: TestTsa = {
    origin,
    url: `${origin}/tsa`,
    dir,
    caPem: await readFile(join(dir, "tsa-ca.pem"), "utf8"),
    caFile: join(dir, "tsa-ca.pem"),
    certFile: join(dir, "tsa.pem"),
    keyFile: join(dir, "tsa.key"),
    policy: TSA_POLICY,
    get requests() {
      return state.requests;
    },
    setDown: (down) => {
      state.down = down;
    },
    close: () => closeServer(server),
  };
  return tsa;
}

type Answer = { status: number; type: string; body: Buffer };

// /tsa answers honestly; /replay answers every request with its first reply; /other-imprint answers a
// query for other data; /reject answers PKIStatus rejection; /down answers HTTP 503
async function route(
  dir: string,
  path: string,
  query: Buffer,
  state: { first: Buffer | undefined },
): Promise<Answer> {
  const reply = (body: Buffer): Answer => ({ status: 200, type: "application/timestamp-reply", body });
  switch (path) {
    case "/tsa":
      return reply(await replyTo(dir, query));
    case "/replay":
      state.first ??= await replyTo(dir, query);
      return reply(state.first);
    case "/other-imprint": {
      await writeFile(join(dir, "other.bin"), randomBytes(32));
      await ossl(dir, "ts", "-query", "-data", "other.bin", "-sha256", "-cert", "-out", "other.tsq");
      return reply(await replyTo(dir, await readFile(join(dir, "other.tsq"))));
    }
    case "/reject":
      return reply(Buffer.from("30053003020102", "hex"));
    default:
      return { status: 503, type: "text/plain", body: Buffer.from("down") };
  }
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  answer: (query: Buffer) => Promise<Answer>,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    const { status, type, body } = await answer(Buffer.concat(chunks));
    response.writeHead(status, { "content-type": type, "content-length": body.length }).end(body);
  } catch (error) {
    response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
  }
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
