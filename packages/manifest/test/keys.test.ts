import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, type ErrorCode } from "@custody/core";
import {
  createKeySigner,
  issueCertificate,
  loadSignerFromFiles,
  readKeyPair,
  verifyDetached,
  writeKeyPair,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, PKI_EPOCH, type TestPki, tempDir } from "./fixtures.js";

async function codeOf(action: () => unknown): Promise<ErrorCode | "no error"> {
  try {
    await action();
    return "no error";
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
}

let pki: TestPki;
let work: { dir: string; remove(): Promise<void> };
const content = Buffer.from("evidence");

beforeAll(async () => {
  pki = await createTestPki();
  work = await tempDir("keys");
});
afterAll(() => work.remove());

describe("key files", () => {
  it("writes the key 0600 as encrypted PKCS#8 when given a passphrase, and reads it back", async () => {
    const dir = join(work.dir, "enc");
    const files = await writeKeyPair(dir, "signer", pki.signer, { passphrase: "correct horse" });
    expect((await stat(files.keyFile)).mode & 0o777).toBe(0o600);
    const pair = await readKeyPair(dir, "signer");
    expect(pair.keyPem).toContain("BEGIN ENCRYPTED PRIVATE KEY");
    expect(await codeOf(() => readKeyPair(dir, "signer", { passphrase: "wrong" }))).toBe(
      "ERR_PASSPHRASE_REQUIRED",
    );
    const opened = await readKeyPair(dir, "signer", { passphrase: "correct horse" });
    expect(
      createKeySigner({ ...opened, certificatePem: opened.certificatePem }).certificateChain,
    ).toHaveLength(1);
    const signer = await loadSignerFromFiles({ ...files, passphrase: "correct horse" });
    expect(
      verifyDetached(content, await signer.sign(content), { trustAnchors: [pki.ca.certificatePem] }).signer
        .subject,
    ).toBe("CN=collector-01");
  });

  it("writes plain PKCS#8 without a passphrase, still 0600", async () => {
    const files = await writeKeyPair(join(work.dir, "plain"), "signer", pki.signer);
    expect((await stat(files.keyFile)).mode & 0o777).toBe(0o600);
    expect((await readKeyPair(join(work.dir, "plain"), "signer")).keyPem).toContain("BEGIN PRIVATE KEY");
  });

  it("never overwrites a key pair (ERR_ALREADY_EXISTS) and leaves the first intact", async () => {
    const dir = join(work.dir, "twice");
    await writeKeyPair(dir, "ca", pki.ca);
    expect(await codeOf(() => writeKeyPair(dir, "ca", pki.signer))).toBe("ERR_ALREADY_EXISTS");
    expect((await readKeyPair(dir, "ca")).certificatePem).toBe(pki.ca.certificatePem);
  });

  it("refuses names that could escape the directory", async () => {
    expect(await codeOf(() => writeKeyPair(work.dir, "../x", pki.ca))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(() => readKeyPair(work.dir, "a/b"))).toBe("ERR_INVALID_ARGUMENT");
  });

  it("ERR_NOT_FOUND for missing files", async () => {
    expect(await codeOf(() => readKeyPair(work.dir, "nobody"))).toBe("ERR_NOT_FOUND");
    expect(
      await codeOf(() =>
        loadSignerFromFiles({ keyFile: join(work.dir, "x"), certFile: join(work.dir, "y") }),
      ),
    ).toBe("ERR_NOT_FOUND");
  });
});

describe("signer keys", () => {
  it("ERR_PASSPHRASE_REQUIRED when the passphrase is missing or wrong", async () => {
    const encrypted = await issueCertificate(pki.ca, {
      commonName: "locked",
      usage: "signer",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 3650,
      passphrase: "s3cret",
    });
    const base = { keyPem: encrypted.keyPem, certificatePem: encrypted.certificatePem };
    expect(await codeOf(() => createKeySigner(base))).toBe("ERR_PASSPHRASE_REQUIRED");
    expect(await codeOf(() => createKeySigner({ ...base, passphrase: "wrong" }))).toBe(
      "ERR_PASSPHRASE_REQUIRED",
    );
    expect(createKeySigner({ ...base, passphrase: "s3cret" }).certificateChain).toHaveLength(1);
  });

  it("ERR_MALFORMED_KEY for junk or a key that does not match the certificate", async () => {
    expect(
      await codeOf(() => createKeySigner({ keyPem: "junk", certificatePem: pki.signer.certificatePem })),
    ).toBe("ERR_MALFORMED_KEY");
    expect(
      await codeOf(() =>
        createKeySigner({ keyPem: pki.ca.keyPem, certificatePem: pki.signer.certificatePem }),
      ),
    ).toBe("ERR_MALFORMED_KEY");
  });

  it("ERR_MALFORMED_CERTIFICATE for a certificate file that is not one", async () => {
    expect(await codeOf(() => createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: "junk" }))).toBe(
      "ERR_MALFORMED_CERTIFICATE",
    );
    const file = join(work.dir, "junk.pem");
    await writeFile(file, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(await codeOf(() => loadSignerFromFiles({ keyFile: file, certFile: file }))).toBe(
      "ERR_MALFORMED_CERTIFICATE",
    );
  });

  it("refuses RSA keys below 2048 bits and unknown usages", async () => {
    expect(
      await codeOf(() => issueCertificate(pki.ca, { commonName: "x", usage: "signer", keyBits: 1024 })),
    ).toBe("ERR_INVALID_ARGUMENT");
    expect(
      await codeOf(() =>
        issueCertificate(pki.ca, { commonName: "x", usage: "root" as "signer", keyBits: 2048 }),
      ),
    ).toBe("ERR_INVALID_ARGUMENT");
  });
});
