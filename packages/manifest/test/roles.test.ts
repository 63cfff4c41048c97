import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, type ErrorCode, fixedClock } from "@custody/core";
import {
  CERTIFICATE_ROLE_OIDS,
  CERTIFICATE_ROLES,
  type CertificateRole,
  certificateRoles,
  createCmsSigner,
  createKeySigner,
  type IssuedCertificate,
  issueCertificate,
  loadSignerFromFiles,
  SIGNING_ROLES,
  verifyDetached,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, openssl, PKI_EPOCH, type TestPki, tempDir } from "./fixtures.js";

const content = Buffer.from('{"version":"custody.manifest/v1"}');
let pki: TestPki;
let work: { dir: string; remove(): Promise<void> };
const issued = new Map<CertificateRole, IssuedCertificate>();

async function codeOf(action: () => unknown): Promise<ErrorCode | "no error"> {
  try {
    await action();
    return "no error";
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
}

function cert(role: CertificateRole): IssuedCertificate {
  return issued.get(role) as IssuedCertificate;
}

/** Signs `content` with openssl as an attacker holding only the key would: no custody code checks anything. */
async function opensslSign(role: CertificateRole): Promise<Buffer> {
  await writeFile(join(work.dir, `${role}.pem`), cert(role).certificatePem);
  await writeFile(join(work.dir, `${role}.key`), cert(role).keyPem, { mode: 0o600 });
  await writeFile(join(work.dir, "content.bin"), content);
  const out = `${role}.p7s`;
  const signed = await openssl(
    ["cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256", "-in", "content.bin"].concat([
      "-signer",
      `${role}.pem`,
      "-inkey",
      `${role}.key`,
      "-out",
      out,
    ]),
    work.dir,
  );
  expect(signed.code, signed.stderr).toBe(0);
  return readFile(join(work.dir, out));
}

beforeAll(async () => {
  pki = await createTestPki();
  work = await tempDir("roles");
  for (const role of CERTIFICATE_ROLES) {
    const options = { commonName: role, usage: role, keyBits: 2048, clock: PKI_EPOCH, validDays: 3650 };
    issued.set(role, await issueCertificate(pki.ca, options));
  }
}, 120_000);
afterAll(() => work?.remove());

describe("issueCertificate roles", () => {
  it("gives every role its own EKU OID, read back by certificateRoles from PEM or X509Certificate", () => {
    for (const role of CERTIFICATE_ROLES) {
      expect(certificateRoles(cert(role).certificatePem)).toEqual([role]);
      expect(certificateRoles(new X509Certificate(cert(role).certificatePem))).toEqual([role]);
    }
    expect(certificateRoles(pki.ca.certificatePem)).toEqual([]);
  });

  it("issues the key usage and standard EKU of each role; only script-signer carries codeSigning", async () => {
    const expected: Record<CertificateRole, [string, string]> = {
      collector: ["Digital Signature, Non Repudiation", "E-mail Protection"],
      "vault-signer": ["Digital Signature, Non Repudiation", "E-mail Protection"],
      "script-signer": ["Digital Signature", "Code Signing"],
      person: ["Digital Signature, Key Encipherment", "TLS Web Client Authentication"],
      device: ["Digital Signature, Key Encipherment", "TLS Web Client Authentication"],
      server: ["Digital Signature, Key Encipherment", "TLS Web Server Authentication"],
      "device-collector": ["Digital Signature, Non Repudiation", "E-mail Protection"],
    };
    for (const role of CERTIFICATE_ROLES) {
      await writeFile(join(work.dir, `${role}-text.pem`), cert(role).certificatePem);
      const text = await openssl(["x509", "-in", `${role}-text.pem`, "-noout", "-text"], work.dir);
      expect(text.code, text.stderr).toBe(0);
      const [keyUsage, purpose] = expected[role];
      expect(text.stdout).toMatch(new RegExp(`Key Usage: critical\\s+${keyUsage}\\n`));
      expect(text.stdout).toMatch(
        new RegExp(
          `Extended Key Usage: *\\n\\s+${purpose}, ${CERTIFICATE_ROLE_OIDS[role].replaceAll(".", "\\.")}\\n`,
        ),
      );
      expect(text.stdout.includes("Code Signing")).toBe(role === "script-signer");
    }
  });

  it('keeps "signer" as a collector and "client" as a person; refuses an unknown usage', async () => {
    const signer = await issueCertificate(pki.ca, { commonName: "s", usage: "signer", keyBits: 2048 });
    const client = await issueCertificate(pki.ca, { commonName: "c", usage: "client", keyBits: 2048 });
    expect(certificateRoles(signer.certificatePem)).toEqual(["collector"]);
    expect(certificateRoles(client.certificatePem)).toEqual(["person"]);
    const bogus = { commonName: "x", usage: "root" as CertificateRole, keyBits: 2048 };
    expect(await codeOf(() => issueCertificate(pki.ca, bogus))).toBe("ERR_INVALID_ARGUMENT");
  });
});

describe("signing with an identity certificate is refused before anything is signed", () => {
  const identities = CERTIFICATE_ROLES.filter((role) => !SIGNING_ROLES.includes(role));

  it("createKeySigner, createCmsSigner and loadSignerFromFiles throw ERR_CERT_USAGE", async () => {
    expect(identities).toEqual(["person", "device", "server"]);
    for (const role of identities) {
      const { keyPem, certificatePem } = cert(role);
      expect(await codeOf(() => createKeySigner({ keyPem, certificatePem }))).toBe("ERR_CERT_USAGE");
      let called = false;
      const hsm = {
        certificateChainPem: [certificatePem],
        keyType: "rsa" as const,
        signAttributes: async () => {
          called = true;
          return Buffer.alloc(256);
        },
      };
      expect(await codeOf(() => createCmsSigner(hsm))).toBe("ERR_CERT_USAGE");
      expect(called).toBe(false);
      const keyFile = join(work.dir, `${role}-load.key`);
      const certFile = join(work.dir, `${role}-load.pem`);
      await writeFile(keyFile, keyPem, { mode: 0o600 });
      await writeFile(certFile, certificatePem);
      expect(await codeOf(() => loadSignerFromFiles({ keyFile, certFile }))).toBe("ERR_CERT_USAGE");
    }
  });

  it("the error names the role, and the key is not even opened (no passphrase asked)", async () => {
    const error = await createKeySignerError(cert("person").certificatePem);
    expect(error.message).toContain("person identity");
  });

  it("every signing role can sign", async () => {
    for (const role of SIGNING_ROLES) {
      const signer = createKeySigner({
        keyPem: cert(role).keyPem,
        certificatePem: cert(role).certificatePem,
      });
      const info = verifyDetached(content, await signer.sign(content), {
        trustAnchors: [pki.ca.certificatePem],
        requiredRole: role,
      });
      expect(info.signer.subject).toBe(`CN=${role}`);
    }
  });
});

async function createKeySignerError(certificatePem: string): Promise<CustodyError> {
  try {
    createKeySigner({ keyPem: "-----BEGIN ENCRYPTED PRIVATE KEY-----\n", certificatePem });
  } catch (error) {
    expect((error as CustodyError).code).toBe("ERR_CERT_USAGE");
    return error as CustodyError;
  }
  throw new Error("no error");
}

describe("verification checks the signer's role", () => {
  const trust = () => ({ trustAnchors: [pki.ca.certificatePem] });

  it("refuses a signature made (with openssl) by an identity key, even though it has digitalSignature", async () => {
    for (const role of ["person", "device", "server"] as const) {
      const signature = await opensslSign(role);
      expect(await codeOf(() => verifyDetached(content, signature, trust()))).toBe("ERR_CERT_USAGE");
    }
  });

  it("requiredRole: a collector cannot pass for the vault signer, nor a script signer for a collector", async () => {
    const collector = createKeySigner({
      keyPem: cert("collector").keyPem,
      certificatePem: cert("collector").certificatePem,
    });
    const signature = await collector.sign(content);
    expect(verifyDetached(content, signature, { ...trust(), requiredRole: "collector" }).signer.subject).toBe(
      "CN=collector",
    );
    let refused: unknown;
    try {
      verifyDetached(content, signature, { ...trust(), requiredRole: "vault-signer" });
    } catch (error) {
      refused = error;
    }
    expect((refused as CustodyError).code).toBe("ERR_CERT_USAGE");
    expect((refused as CustodyError).message).toContain("vault-signer");
    const script = await opensslSign("script-signer");
    expect(
      await codeOf(() => verifyDetached(content, script, { ...trust(), requiredRole: "collector" })),
    ).toBe("ERR_CERT_USAGE");
  });

  it("requiredRole refuses a certificate with no role OID (an older signer, a foreign CA's emailProtection)", async () => {
    const legacy = await opensslLegacySigner();
    expect(verifyDetached(content, legacy, trust()).signer.subject).toBe("CN=legacy");
    expect(
      await codeOf(() => verifyDetached(content, legacy, { ...trust(), requiredRole: "collector" })),
    ).toBe("ERR_CERT_USAGE");
  });

  it("an unknown requiredRole or validity is ERR_INVALID_ARGUMENT, never a weaker check", async () => {
    const signature = await createKeySigner({
      keyPem: pki.signer.keyPem,
      certificatePem: pki.signer.certificatePem,
    }).sign(content);
    const role = { ...trust(), requiredRole: "admin" as CertificateRole };
    expect(await codeOf(() => verifyDetached(content, signature, role))).toBe("ERR_INVALID_ARGUMENT");
    const validity = { ...trust(), validity: "never" as "signing-time" };
    expect(await codeOf(() => verifyDetached(content, signature, validity))).toBe("ERR_INVALID_ARGUMENT");
  });
});

/** A signer certificate with emailProtection and no custody role, issued by the test CA with openssl. */
async function opensslLegacySigner(): Promise<Buffer> {
  await writeFile(join(work.dir, "ca.pem"), pki.ca.certificatePem);
  await writeFile(join(work.dir, "ca.key"), pki.ca.keyPem, { mode: 0o600 });
  await writeFile(
    join(work.dir, "legacy.cnf"),
    "[ext]\nbasicConstraints = critical, CA:false\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = emailProtection\n",
  );
  const steps = [
    [
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "legacy.key",
      "-out",
      "legacy.csr",
      "-subj",
      "/CN=legacy",
    ],
    ["x509", "-req", "-in", "legacy.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "4242"].concat([
      "-days",
      "30",
      "-sha256",
      "-extfile",
      "legacy.cnf",
      "-extensions",
      "ext",
      "-out",
      "legacy.pem",
    ]),
    ["cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256", "-in", "content.bin"].concat([
      "-signer",
      "legacy.pem",
      "-inkey",
      "legacy.key",
      "-out",
      "legacy.p7s",
    ]),
  ];
  await writeFile(join(work.dir, "content.bin"), content);
  for (const args of steps) {
    const result = await openssl(args, work.dir);
    expect(result.code, result.stderr).toBe(0);
  }
  return readFile(join(work.dir, "legacy.p7s"));
}

describe("validity: signing-time", () => {
  // the fixture CA is valid 2020-2029; this signer only 2020-2022
  let shortLived: IssuedCertificate;
  beforeAll(async () => {
    shortLived = await issueCertificate(pki.ca, {
      commonName: "short-lived",
      usage: "vault-signer",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 730,
    });
  });

  async function signedAt(iso: string): Promise<Buffer> {
    const signer = createKeySigner({
      keyPem: shortLived.keyPem,
      certificatePem: shortLived.certificatePem,
      clock: fixedClock(iso),
    });
    return signer.sign(content);
  }

  it("accepts a signature made in the certificate's lifetime after it expired; the default still refuses", async () => {
    const signature = await signedAt("2021-06-01T00:00:00.000Z");
    const later = { trustAnchors: [pki.ca.certificatePem], clock: fixedClock("2026-01-01T00:00:00.000Z") };
    expect(await codeOf(() => verifyDetached(content, signature, later))).toBe("ERR_CERT_EXPIRED");
    const info = verifyDetached(content, signature, { ...later, validity: "signing-time" });
    expect(info.signingTime.toISOString()).toBe("2021-06-01T00:00:00.000Z");
  });

  it("still refuses a signing time outside the certificate's lifetime", async () => {
    const late = await signedAt("2023-01-01T00:00:00.000Z");
    const trust = {
      trustAnchors: [pki.ca.certificatePem],
      clock: fixedClock("2026-01-01T00:00:00.000Z"),
      validity: "signing-time" as const,
    };
    expect(await codeOf(() => verifyDetached(content, late, trust))).toBe("ERR_CERT_EXPIRED");
    const early = await signedAt("2019-06-01T00:00:00.000Z");
    expect(await codeOf(() => verifyDetached(content, early, trust))).toBe("ERR_CERT_NOT_YET_VALID");
  });
});

describe("openssl interop without -purpose any", () => {
  async function opensslVerify(role: CertificateRole): Promise<number> {
    const signer = createKeySigner({ keyPem: cert(role).keyPem, certificatePem: cert(role).certificatePem });
    await writeFile(join(work.dir, `${role}-custody.p7s`), await signer.sign(content));
    await writeFile(join(work.dir, "content.bin"), content);
    await writeFile(join(work.dir, "ca.pem"), pki.ca.certificatePem);
    const args = ["cms", "-verify", "-binary", "-inform", "DER", "-content", "content.bin"];
    const result = await openssl(
      [...args, "-in", `${role}-custody.p7s`, "-CAfile", "ca.pem", "-out", "/dev/null"],
      work.dir,
    );
    return result.code;
  }

  it("accepts collector and vault-signer signatures under its default S/MIME signing purpose", async () => {
    expect(await opensslVerify("collector")).toBe(0);
    expect(await opensslVerify("vault-signer")).toBe(0);
    // a script signer is a code signer, not an S/MIME one: openssl wants -purpose any (or codesign) for it
    expect(await opensslVerify("script-signer")).not.toBe(0);
  });
});
