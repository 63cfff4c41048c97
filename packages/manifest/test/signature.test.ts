import { createHash, X509Certificate } from "node:crypto";
import { CustodyError, type ErrorCode, fixedClock } from "@custody/core";
import {
  createCertificateAuthority,
  createCrl,
  createKeySigner,
  issueCertificate,
  type Signer,
  signatureDigestAlgorithm,
  type TrustOptions,
  verifyDetached,
  verifyDetachedDigest,
} from "@custody/manifest";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki, PKI_EPOCH, type TestPki } from "./fixtures.js";

function codeOf(action: () => unknown): ErrorCode | "no error" {
  try {
    action();
    return "no error";
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
}

const content = Buffer.from('{"version":"custody.manifest/v1"}');
let pki: TestPki;
let signer: Signer;
let trust: TrustOptions;

beforeAll(async () => {
  pki = await createTestPki();
  signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
  trust = { trustAnchors: [pki.ca.certificatePem] };
});

describe("sign and verify", () => {
  it("round-trips and reports the signer, the time and the chain", async () => {
    const before = Date.now();
    const signature = await signer.sign(content);
    const info = verifyDetached(content, signature, trust);
    const leaf = new X509Certificate(pki.signer.certificatePem);
    expect(info.signer.subject).toBe("CN=collector-01");
    expect(info.signer.serialNumber).toBe(pki.signer.serialNumber);
    expect(info.signer.fingerprintSha256).toBe(leaf.fingerprint256.replaceAll(":", "").toLowerCase());
    expect(info.signingTime.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(info.certificateChain).toHaveLength(2);
    expect(signer.certificateChain).toHaveLength(1);
  });

  it("signs and verifies from digests alone, for content streamed through a hash", async () => {
    const sha256 = createHash("sha256").update(content).digest();
    const signature = await (signer.signDigest as (d: Uint8Array) => Promise<Buffer>)(sha256);
    expect(signatureDigestAlgorithm(signature)).toBe("sha256");
    const info = verifyDetachedDigest((hash) => createHash(hash).update(content).digest(), signature, trust);
    expect(info.signer.subject).toBe("CN=collector-01");
    expect(verifyDetached(content, signature, trust).signer.subject).toBe("CN=collector-01");
  });

  it("signs with the injected clock as signingTime", async () => {
    const at = "2024-05-06T07:08:09.000Z";
    const clocked = createKeySigner({ ...keyAndCert(), clock: fixedClock(at) });
    const info = verifyDetached(content, await clocked.sign(content), trust);
    expect(info.signingTime.toISOString()).toBe(at);
  });

  it("verifies with a 3072-bit CA and signer (the defaults)", async () => {
    const ca = await createCertificateAuthority({ commonName: "Default CA" });
    const leaf = await issueCertificate(ca, { commonName: "default signer", usage: "signer" });
    expect(new X509Certificate(ca.certificatePem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    const s = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
    expect(
      verifyDetached(content, await s.sign(content), { trustAnchors: [ca.certificatePem] }).signer.subject,
    ).toBe("CN=default signer");
  }, 120_000);
});

function keyAndCert() {
  return { keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem };
}

describe("verification failures have distinct codes", () => {
  it("ERR_DIGEST_MISMATCH when the content changed", async () => {
    const signature = await signer.sign(content);
    expect(codeOf(() => verifyDetached(Buffer.from(`${content} `), signature, trust))).toBe(
      "ERR_DIGEST_MISMATCH",
    );
  });

  it("ERR_SIGNATURE_INVALID when the signature value changed", async () => {
    const signature = await signer.sign(content);
    signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 1;
    expect(codeOf(() => verifyDetached(content, signature, trust))).toBe("ERR_SIGNATURE_INVALID");
  });

  it("ERR_MALFORMED_SIGNATURE for junk, truncation and trailing bytes", async () => {
    const signature = await signer.sign(content);
    expect(codeOf(() => verifyDetached(content, Buffer.from("not a signature"), trust))).toBe(
      "ERR_MALFORMED_SIGNATURE",
    );
    expect(codeOf(() => verifyDetached(content, signature.subarray(0, 100), trust))).toBe(
      "ERR_MALFORMED_SIGNATURE",
    );
    const trailing = Buffer.concat([signature, Buffer.from([0])]);
    expect(codeOf(() => verifyDetached(content, trailing, trust))).toBe("ERR_MALFORMED_SIGNATURE");
    expect(codeOf(() => verifyDetached(content, Buffer.alloc(0), trust))).toBe("ERR_MALFORMED_SIGNATURE");
    expect(codeOf(() => verifyDetached(content, Buffer.alloc(2 * 1024 * 1024, 0x30), trust))).toBe(
      "ERR_SIZE_LIMIT",
    );
    // deeply nested SEQUENCEs must not overflow the parser's stack into a crash
    const nested = Buffer.concat([Buffer.from("3080".repeat(50_000), "hex"), Buffer.alloc(100_000)]);
    expect(codeOf(() => verifyDetached(content, nested, trust))).toBe("ERR_MALFORMED_SIGNATURE");
  });

  it("ERR_UNTRUSTED_SIGNER under another CA", async () => {
    const other = await createCertificateAuthority({
      commonName: "Test Vault CA",
      keyBits: 2048,
      clock: PKI_EPOCH,
    });
    const signature = await signer.sign(content);
    expect(codeOf(() => verifyDetached(content, signature, { trustAnchors: [other.certificatePem] }))).toBe(
      "ERR_UNTRUSTED_SIGNER",
    );
  });

  it("refuses trust input that is not a certificate instead of skipping it", async () => {
    const signature = await signer.sign(content);
    expect(codeOf(() => verifyDetached(content, signature, { trustAnchors: [] }))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    const junk = { trustAnchors: [pki.ca.certificatePem, "not a certificate"] };
    expect(codeOf(() => verifyDetached(content, signature, junk))).toBe("ERR_MALFORMED_CERTIFICATE");
  });

  it("ERR_CERT_EXPIRED when the signer certificate has expired, ok at a time inside its validity", async () => {
    const leaf = await issueCertificate(pki.ca, {
      commonName: "short-lived",
      usage: "signer",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 30,
    });
    const at = fixedClock("2020-01-10T00:00:00.000Z");
    const s = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem, clock: at });
    const signature = await s.sign(content);
    expect(codeOf(() => verifyDetached(content, signature, trust))).toBe("ERR_CERT_EXPIRED");
    expect(verifyDetached(content, signature, { ...trust, clock: at }).signer.subject).toBe("CN=short-lived");
  });

  it("ERR_CERT_NOT_YET_VALID when signed before the certificate's notBefore", async () => {
    const leaf = await issueCertificate(pki.ca, {
      commonName: "future",
      usage: "signer",
      keyBits: 2048,
      clock: fixedClock(new Date(Date.now() + 10 * 86_400_000)),
    });
    const signature = await createKeySigner({
      keyPem: leaf.keyPem,
      certificatePem: leaf.certificatePem,
    }).sign(content);
    expect(codeOf(() => verifyDetached(content, signature, trust))).toBe("ERR_CERT_NOT_YET_VALID");
  });

  it("ERR_SIGNATURE_INVALID when the signing time is in the verifier's future", async () => {
    const signature = await signer.sign(content);
    const past = fixedClock("2021-01-01T00:00:00.000Z");
    expect(codeOf(() => verifyDetached(content, signature, { ...trust, clock: past }))).toBe(
      "ERR_SIGNATURE_INVALID",
    );
  });

  it("ERR_CERT_REVOKED with a CRL that lists the signer; a CRL that does not is fine", async () => {
    const signature = await signer.sign(content);
    const revoked = createCrl(pki.ca, [{ serialNumber: pki.signer.serialNumber, revokedAt: new Date() }]);
    const clean = createCrl(pki.ca, [{ serialNumber: "01", revokedAt: new Date() }]);
    expect(codeOf(() => verifyDetached(content, signature, { ...trust, crls: [revoked] }))).toBe(
      "ERR_CERT_REVOKED",
    );
    expect(verifyDetached(content, signature, { ...trust, crls: [clean] }).signer.subject).toBe(
      "CN=collector-01",
    );
  });

  it("ERR_MALFORMED_CRL for a CRL in the CA's name that the CA did not sign, or junk", async () => {
    const impostor = await createCertificateAuthority({
      commonName: "Test Vault CA",
      keyBits: 2048,
      clock: PKI_EPOCH,
    });
    const forged = createCrl(impostor, []);
    const signature = await signer.sign(content);
    expect(codeOf(() => verifyDetached(content, signature, { ...trust, crls: [forged] }))).toBe(
      "ERR_MALFORMED_CRL",
    );
    expect(codeOf(() => verifyDetached(content, signature, { ...trust, crls: ["junk"] }))).toBe(
      "ERR_MALFORMED_CRL",
    );
    const stranger = await createCertificateAuthority({
      commonName: "Unrelated CA",
      keyBits: 2048,
      clock: PKI_EPOCH,
    });
    const unknown = createCrl(stranger, []);
    expect(codeOf(() => verifyDetached(content, signature, { ...trust, crls: [unknown] }))).toBe(
      "ERR_MALFORMED_CRL",
    );
  });

  it("ERR_CERT_USAGE for a client certificate used to sign: refused when signing", async () => {
    const client = await issueCertificate(pki.ca, {
      commonName: "alice",
      usage: "client",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 3650,
    });
    expect(
      codeOf(() => createKeySigner({ keyPem: client.keyPem, certificatePem: client.certificatePem })),
    ).toBe("ERR_CERT_USAGE");
  });

  it("ERR_CERT_USAGE when a leaf (not a CA) is used as an issuer", async () => {
    // the signer certificate's key signs a further "leaf": the chain has a non-CA in the middle
    const fakeCa = { certificatePem: pki.signer.certificatePem, keyPem: pki.signer.keyPem };
    const leaf = await issueCertificate(fakeCa, {
      commonName: "sub",
      usage: "signer",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 3650,
    });
    const s = createKeySigner({
      keyPem: leaf.keyPem,
      certificatePem: leaf.certificatePem,
      chainPem: fakeCa.certificatePem,
    });
    const signature = await s.sign(content);
    expect(codeOf(() => verifyDetached(content, signature, trust))).toBe("ERR_CERT_USAGE");
  });

  it("ERR_ALGORITHM_NOT_ALLOWED when the allow-list excludes rsa-sha256", async () => {
    const signature = await signer.sign(content);
    const strict = { ...trust, allowedAlgorithms: ["ecdsa-sha256"] };
    expect(codeOf(() => verifyDetached(content, signature, strict))).toBe("ERR_ALGORITHM_NOT_ALLOWED");
  });
});
