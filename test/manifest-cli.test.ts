import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runCli } from "@custody/cli";
import {
  certificateRoles,
  createCertificateAuthority,
  createCrl,
  readRevokedSerials,
} from "@custody/manifest";
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

const exists = (file: string) =>
  access(join(work, file)).then(
    () => true,
    () => false,
  );

const opensslVerify = (
  content: string,
  signature: string,
  caFile: string,
  extra: string[] = ["-purpose", "any"],
) =>
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
    // the signer is a collector: emailProtection lets openssl's default S/MIME purpose accept it
    expect(opensslVerify("evidence.txt", "evidence.txt.p7s", "keys/ca.pem", [])).toBe(0);
    expect(certificateRoles(await readFile(join(work, "keys/signer.pem"), "utf8"))).toEqual(["collector"]);
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

  it("keys issue writes a client certificate; signing with it is refused before anything is written", async () => {
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
    expect(certificateRoles(await readFile(join(work, "people/alice.pem"), "utf8"))).toEqual(["person"]);
    await writeFile(join(work, "note.txt"), "note");
    const signed = await run(["sign", "note.txt", "--key", "people/alice.key", "--cert", "people/alice.pem"]);
    expect(signed.code).toBe(1);
    expect(signed.err).toContain("ERR_CERT_USAGE");
    expect(await exists("note.txt.p7s")).toBe(false);
    expect((await run(["keys", "issue", "--dir", "keys", "--name", "x", "--usage", "root"])).code).toBe(2);
  });

  it("keys issue --usage takes every role, each with its own EKU; identities cannot sign or package", async () => {
    const roles = ["collector", "vault-signer", "script-signer", "person", "device", "server"];
    for (const role of roles) {
      const args = ["keys", "issue", "--dir", "keys", "--name", role, "--usage", role, "--out", "roles"];
      const issued = await run([...args, "--key-bits", "2048", "--json"]);
      expect(issued.code, issued.err).toBe(0);
      expect((JSON.parse(issued.out) as { role: string }).role).toBe(role);
      expect(certificateRoles(await readFile(join(work, `roles/${role}.pem`), "utf8"))).toEqual([role]);
    }
    await mkdir(join(work, "case-files"), { recursive: true });
    await writeFile(join(work, "case-files/a.txt"), "a");
    for (const role of ["person", "device", "server"]) {
      const key = ["--key", `roles/${role}.key`, "--cert", `roles/${role}.pem`];
      const signed = await run(["sign", "note.txt", "--out", `${role}.p7s`, ...key]);
      expect(signed.code, role).toBe(1);
      expect(signed.err).toContain("ERR_CERT_USAGE");
      const packaged = await run(["package", "case-files", "--out", `${role}.zip`, "--case", "C-1", ...key]);
      expect(packaged.code, role).toBe(1);
      expect(packaged.err).toContain("ERR_CERT_USAGE");
      expect(await exists(`${role}.zip`)).toBe(false);
    }
    const key = ["--key", "roles/collector.key", "--cert", "roles/collector.pem"];
    expect((await run(["package", "case-files", "--out", "ok.zip", "--case", "C-1", ...key])).code).toBe(0);
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

  it("keys revoke keeps every revocation in the signed CRL alone: an edited side file changes nothing", async () => {
    const issue = (name: string) =>
      run([
        "keys",
        "issue",
        "--dir",
        "keys",
        "--name",
        name,
        "--usage",
        "person",
        "--out",
        "people",
        "--key-bits",
        "2048",
      ]);
    expect((await issue("mallory")).code).toBe(0);
    expect((await issue("bob")).code).toBe(0);
    expect((await run(["keys", "revoke", "--dir", "keys", "--cert", "people/mallory.pem"])).code).toBe(0);
    // someone with write access to the folder, no CA key, "forgets" the revocation in a list beside the CRL
    await writeFile(join(work, "keys/revoked.json"), `${JSON.stringify({ version: 1, revoked: [] })}\n`);
    const revoked = await run(["keys", "revoke", "--dir", "keys", "--cert", "people/bob.pem", "--json"]);
    expect(revoked.code, revoked.err).toBe(0);
    expect((JSON.parse(revoked.out) as { added: boolean }).added).toBe(true);
    const serials = readRevokedSerials(
      await readFile(join(work, "keys/crl.pem"), "utf8"),
      await readFile(join(work, "keys/ca.pem"), "utf8"),
    );
    for (const name of ["mallory", "bob"]) {
      const cert = new X509Certificate(await readFile(join(work, `people/${name}.pem`)));
      expect(serials.has(cert.serialNumber), name).toBe(true);
    }
  });

  it("keys revoke refuses a CRL the CA did not sign (exit 1, ERR_MALFORMED_CRL) and leaves it as it is", async () => {
    const caName = "custody vault CA";
    const impostor = await createCertificateAuthority({ commonName: caName, keyBits: 2048 });
    const forged = createCrl(impostor, []);
    const genuine = await readFile(join(work, "keys/crl.pem"), "utf8");
    for (const hostile of [forged, "junk\n"]) {
      await writeFile(join(work, "keys/crl.pem"), hostile);
      const refused = await run(["keys", "revoke", "--dir", "keys", "--cert", "people/alice.pem"]);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain("ERR_MALFORMED_CRL");
      expect(await readFile(join(work, "keys/crl.pem"), "utf8")).toBe(hostile);
    }
    await writeFile(join(work, "keys/crl.pem"), genuine);
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
