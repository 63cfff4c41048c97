import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVaultClient, type VaultClient } from "@custody/client";
import { isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, type Identity, identityOf } from "../packages/server/test/helpers.js";

// The item's digest is its sha256; `custody ingest --hash`, the upload's `hash` query parameter and
// the client's `hashes` option add others. A bad name is refused with a stable code and stores nothing,
// through the CLI on a local vault, the CLI against a server, the client, and raw requests.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-ingest-hashes-"));
const vault = join(work, "vault");
const children: ChildProcess[] = [];

const digestOf = (algorithm: string, bytes: Buffer) => createHash(algorithm).update(bytes).digest("hex");

function custody(args: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CUSTODY_VAULT: vault,
    CUSTODY_IDENTITY: join(work, "alice.pem"),
  };
  delete env.CUSTODY_SERVER;
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, bytes: Buffer): string {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

const HOSTILE_CLI = ["crc32", "", "SHA1", "sha-1", "sha1,,md5", "md5,../../etc/passwd", "x".repeat(5000)];

beforeAll(() => {
  const init = custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]);
  expect(init.code, init.stderr).toBe(0);
});

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

describe("custody ingest --hash, local vault", () => {
  it("records sha256 only by default; --hash adds the digests named", () => {
    const bytes = Buffer.from("plain evidence\n");
    const plain = custody(["ingest", file("plain.txt", bytes), "--case", "L1", "--json"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout).digests).toEqual({ sha256: digestOf("sha256", bytes) });

    const more = Buffer.from("asked for more\n");
    const asked = custody([
      "ingest",
      file("asked.txt", more),
      "--case",
      "L1",
      "--hash",
      "sha1,md5",
      "--json",
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    expect(JSON.parse(asked.stdout).digests).toEqual({
      sha256: digestOf("sha256", more),
      sha1: digestOf("sha1", more),
      md5: digestOf("md5", more),
    });
    const shown = custody(["show", JSON.parse(asked.stdout).id]);
    expect(shown.stdout).toMatch(new RegExp(`md5\\s+${digestOf("md5", more)}`));
    expect(custody(["show", JSON.parse(plain.stdout).id]).stdout).not.toMatch(/^(sha1|md5)\s/m);
  });

  it("a bad --hash is a usage error with ERR_UNSUPPORTED_ALGORITHM, before a byte is read, nothing stored", () => {
    const evidence = file("refused.txt", Buffer.from("never\n"));
    for (const name of HOSTILE_CLI) {
      const refused = custody(["ingest", evidence, "--case", "LBAD", "--hash", name]);
      expect(refused.code, `--hash ${name.slice(0, 40)}: ${refused.stderr}`).toBe(2);
      expect(refused.stderr).toContain("ERR_UNSUPPORTED_ALGORITHM");
      expect(refused.stderr.length).toBeLessThan(2000);
    }
    const listed = custody(["list", "--case", "LBAD", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});

describe("against a server: the hash parameter, the client's hashes option, custody --server ingest --hash", () => {
  let url = "";
  let ca = "";
  let alice: Identity;
  let client: VaultClient;

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, CUSTODY_LOG_LEVEL: "warn" };
    delete env.CUSTODY_SERVER;
    const server = spawn(
      process.execPath,
      [BIN, "serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"],
      { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(server);
    url = await new Promise<string>((resolve, reject) => {
      let output = "";
      const seen = (chunk: Buffer) => {
        output = `${output}${chunk}`.slice(-20_000);
        const found = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (found?.[1] !== undefined) resolve(found[1]);
      };
      server.stdout?.on("data", seen);
      server.stderr?.on("data", seen);
      server.once("exit", (code) => reject(new Error(`custody serve exited ${code}: ${output}`)));
    });
    const identityPem = readFileSync(join(work, "alice.pem"), "utf8");
    alice = identityOf(identityPem);
    ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
    client = createVaultClient({ baseUrl: url, identityPem });
  });

  afterAll(() => client?.close());

  async function nothingIn(caseId: string): Promise<void> {
    expect(await client.list({ caseId })).toEqual([]);
  }

  it("an upload computes sha256 only by default, and the digests the client asks for", async () => {
    const bytes = Buffer.alloc(2 * 1024 * 1024 + 5, 3);
    const plain = await client.ingest(file("up.bin", bytes), { caseId: "R1" });
    expect(plain.digests).toEqual({ sha256: digestOf("sha256", bytes) });
    const asked = await client.ingest(file("up.bin", bytes), { caseId: "R2", hashes: ["md5", "sha1"] });
    expect(asked.digests).toEqual({
      sha256: digestOf("sha256", bytes),
      sha1: digestOf("sha1", bytes),
      md5: digestOf("md5", bytes),
    });
  });

  it("custody --server … ingest --hash sends the names; a bad one is refused by the CLI or the server alike", () => {
    const bytes = Buffer.from("through the server\n");
    const remote = ["--server", url, "--identity", join(work, "alice.pem")];
    const asked = custody([
      ...remote,
      "ingest",
      file("remote.txt", bytes),
      "--case",
      "R3",
      "--hash",
      "sha512",
      "--json",
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    expect(JSON.parse(asked.stdout).digests).toEqual({
      sha256: digestOf("sha256", bytes),
      sha512: digestOf("sha512", bytes),
    });
    const refused = custody([
      ...remote,
      "ingest",
      file("remote.txt", bytes),
      "--case",
      "R4",
      "--hash",
      "crc32",
    ]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain("ERR_UNSUPPORTED_ALGORITHM");
  });

  it("the client's unknown name comes back as ERR_UNSUPPORTED_ALGORITHM, nothing stored", async () => {
    const error = await client
      .ingest(file("bad.bin", Buffer.alloc(64 * 1024, 1)), {
        caseId: "R5",
        hashes: ["crc32" as "md5"],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isCustodyError(error) ? error.code : error).toBe("ERR_UNSUPPORTED_ALGORITHM");
    await nothingIn("R5");
  });

  it.each([
    ["an unknown name", 400, "ERR_UNSUPPORTED_ALGORITHM", "hash=crc32"],
    ["a name in upper case", 400, "ERR_UNSUPPORTED_ALGORITHM", "hash=SHA1"],
    [
      "too many names",
      400,
      "ERR_INVALID_ARGUMENT",
      `hash=${Array.from({ length: 17 }, () => "md5").join(",")}`,
    ],
    ["an empty value", 400, "ERR_INVALID_ARGUMENT", "hash="],
    ["the parameter twice", 400, "ERR_INVALID_ARGUMENT", "hash=sha1&hash=md5"],
    ["an empty name in the list", 400, "ERR_INVALID_ARGUMENT", "hash=sha1,,md5"],
    ["a path", 400, "ERR_INVALID_ARGUMENT", "hash=..%2F..%2Fetc%2Fpasswd"],
    ["a NUL byte", 400, "ERR_INVALID_ARGUMENT", "hash=md5%00"],
    ["a very long name", 400, "ERR_INVALID_ARGUMENT", `hash=${"a".repeat(4000)}`],
  ])("an upload with %s in hash is %i %s, nothing stored", async (_what, status, code, query) => {
    const caseId = `H${createHash("sha256").update(query).digest("hex").slice(0, 8)}`;
    const bytes = Buffer.alloc(256 * 1024, 9);
    const response = await call(url, `/v1/items?case=${caseId}&name=x.bin&${query}`, {
      method: "POST",
      identity: alice,
      ca,
      body: bytes,
      headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
    });
    expect(response.status, response.body.toString()).toBe(status);
    expect(response.json()).toMatchObject({ code, status });
    await nothingIn(caseId);
  });
});
