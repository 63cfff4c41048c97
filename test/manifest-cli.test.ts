import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runCli } from "@custody/cli";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-manifest-cli-"));
  await writeFile(join(work, "evidence.txt"), "the bytes that matter\n");
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: "", err: "" };
  stdout.on("data", (d: Buffer) => (chunks.out += d));
  stderr.on("data", (d: Buffer) => (chunks.err += d));
  const code = await runCli(args, { stdout, stderr, stdin: Readable.from([]), env, cwd: work });
  return { code, ...chunks };
}

const opensslVerify = (content: string, signature: string, caFile: string, extra: string[] = []) =>
  spawnSync(
    "openssl",
    [
      "cms",
      "-verify",
      "-binary",
      "-inform",
      "DER",
      "-content",
      content,
      "-in",
      signature,
      "-CAfile",
      caFile,
      "-purpose",
      "any",
      "-out",
      "/dev/null",
      ...extra,
    ],
    { cwd: work, encoding: "utf8" },
  ).status;

describe("custody keys / sign / verify", () => {
  it("keys init makes a CA, a signer and a CRL with 0600 keys, and never replaces them", async () => {
    const first = await run(["keys", "init", "--dir", "keys", "--key-bits", "2048"]);
    expect(first.code, first.err).toBe(0);
    for (const name of ["ca.key", "signer.key"]) {
      expect((await stat(join(work, "keys", name))).mode & 0o777).toBe(0o600);
    }
    expect(await readFile(join(work, "keys/crl.pem"), "utf8")).toContain("BEGIN X509 CRL");
    const again = await run(["keys", "init", "--dir", "keys", "--key-bits", "2048"]);
    expect(again.code).toBe(5);
    expect(again.err).toContain("ERR_ALREADY_EXISTS");
  });

  it("sign writes FILE.p7s that custody verify and openssl both accept", async () => {
    const signed = await run(["sign", "evidence.txt"], { CUSTODY_KEYS_DIR: "keys" });
    expect(signed.code, signed.err).toBe(0);
    const verified = await run(["verify", "evidence.txt", "--ca", "keys/ca.pem", "--json"]);
    expect(verified.code, verified.err).toBe(0);
    const report = JSON.parse(verified.out) as { ok: boolean; signer: { subject: string } };
    expect(report.ok).toBe(true);
    expect(report.signer.subject).toBe("CN=custody vault CA signer");
    expect(opensslVerify("evidence.txt", "evidence.txt.p7s", "keys/ca.pem")).toBe(0);
    expect((await run(["sign", "evidence.txt", "--keys-dir", "keys"])).code).toBe(5);
  });

  it("verify exits 1 with the reason for tampered content, 2 for bad trust input", async () => {
    await writeFile(join(work, "copy.txt"), "the bytes that matter!\n");
    const tampered = await run([
      "verify",
      "copy.txt",
      "--signature",
      "evidence.txt.p7s",
      "--ca",
      "keys/ca.pem",
      "--json",
    ]);
    expect(tampered.code).toBe(1);
    expect((JSON.parse(tampered.out) as { error: { code: string } }).error.code).toBe("ERR_DIGEST_MISMATCH");
    expect((await run(["verify", "evidence.txt"])).code).toBe(2);
    expect((await run(["verify", "evidence.txt", "--ca", "evidence.txt"])).code).toBe(2);
    expect((await run(["verify", "evidence.txt", "--ca", "keys/ca.pem", "--crl", "evidence.txt"])).code).toBe(
      2,
    );
  });

  it("keys issue writes a client certificate; a client certificate cannot sign evidence", async () => {
    const issued = await run([
      "keys",
      "issue",
      "--dir",
      "keys",
      "--name",
      "alice",
      "--usage",
      "client",
      "--out",
      "people",
      "--key-bits",
      "2048",
    ]);
    expect(issued.code, issued.err).toBe(0);
    expect((await stat(join(work, "people/alice.key"))).mode & 0o777).toBe(0o600);
    await writeFile(join(work, "note.txt"), "note");
    const signed = await run(["sign", "note.txt", "--key", "people/alice.key", "--cert", "people/alice.pem"]);
    expect(signed.code).toBe(0);
    const verified = await run(["verify", "note.txt", "--ca", "keys/ca.pem"]);
    expect(verified.code).toBe(1);
    expect(verified.err).toContain("ERR_CERT_USAGE");
    expect((await run(["keys", "issue", "--dir", "keys", "--name", "x", "--usage", "root"])).code).toBe(2);
  });

  it("keys revoke updates the CRL; verify --crl and openssl -crl_check then refuse the signer", async () => {
    const revoked = await run(["keys", "revoke", "--dir", "keys", "--cert", "keys/signer.pem"]);
    expect(revoked.code, revoked.err).toBe(0);
    const verified = await run(["verify", "evidence.txt", "--ca", "keys/ca.pem", "--crl", "keys/crl.pem"]);
    expect(verified.code).toBe(1);
    expect(verified.err).toContain("ERR_CERT_REVOKED");
    const bundle =
      (await readFile(join(work, "keys/ca.pem"), "utf8")) +
      (await readFile(join(work, "keys/crl.pem"), "utf8"));
    await writeFile(join(work, "ca-crl.pem"), bundle);
    expect(opensslVerify("evidence.txt", "evidence.txt.p7s", "ca-crl.pem", ["-crl_check"])).not.toBe(0);
    expect((await run(["keys", "revoke", "--dir", "keys", "--cert", "keys/signer.pem"])).code).toBe(0);
  });

  it("encrypted keys need the passphrase: a usage error (exit 2) without it", async () => {
    const env = { CUSTODY_KEY_PASSPHRASE: "correct horse battery" };
    expect((await run(["keys", "init", "--dir", "locked", "--key-bits", "2048"], env)).code).toBe(0);
    expect(await readFile(join(work, "locked/signer.key"), "utf8")).toContain("BEGIN ENCRYPTED PRIVATE KEY");
    const without = await run(["sign", "evidence.txt", "--keys-dir", "locked", "--out", "locked.p7s"]);
    expect(without.code).toBe(2);
    expect(without.err).toContain("CUSTODY_KEY_PASSPHRASE");
    expect(
      (await run(["sign", "evidence.txt", "--keys-dir", "locked", "--out", "locked.p7s"], env)).code,
    ).toBe(0);
    expect(
      (await run(["verify", "evidence.txt", "--signature", "locked.p7s", "--ca", "locked/ca.pem"])).code,
    ).toBe(0);
    expect((await run(["sign", "evidence.txt", "--key", "x.pem"])).code).toBe(2);
  });
});
