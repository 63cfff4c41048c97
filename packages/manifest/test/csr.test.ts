import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, type ErrorCode, fixedClock } from "@custody/core";
import {
  CERTIFICATE_ROLE_OIDS,
  createCertificateAuthority,
  type IssuedCertificate,
  issueDeviceCertificate,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openssl, tempDir } from "./fixtures.js";

const NOW = fixedClock("2026-01-01T00:00:00.000Z");
const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";
let ca: IssuedCertificate;
let work: { dir: string; remove(): Promise<void> };
/** A hostile request: a chosen name, CA:true, a server purpose and other names, on a good key. */
let greedyCsr: string;

async function csr(name: string, keyArgs: string[], extra: string[] = []): Promise<string> {
  const out = join(work.dir, `${name}.csr`);
  const made = await openssl(
    ["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", out, ...extra],
    work.dir,
  );
  expect(made.code, made.stderr).toBe(0);
  return readFile(out, "utf8");
}

function codeOf(action: () => unknown): ErrorCode | "no error" {
  try {
    action();
    return "no error";
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
}

beforeAll(async () => {
  work = await tempDir("csr");
  ca = await createCertificateAuthority({ commonName: "Test Vault CA", keyBits: 3072, clock: NOW });
  await writeFile(join(work.dir, "ca.pem"), ca.certificatePem);
  greedyCsr = await csr(
    "greedy",
    ["-newkey", "rsa:3072"],
    [
      "-subj",
      "/CN=custodian/OU=person/O=Evil",
      "-addext",
      "basicConstraints=critical,CA:true",
      "-addext",
      "extendedKeyUsage=serverAuth,codeSigning",
      "-addext",
      "subjectAltName=DNS:vault.example,IP:127.0.0.1",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
  );
}, 60_000);

afterAll(() => work.remove());

describe("issueDeviceCertificate", () => {
  it("issues CN=<device id>, OU=device, clientAuth and the device role for 90 days, whatever the request asked", async () => {
    const issued = issueDeviceCertificate(ca, greedyCsr, { deviceId: DEVICE, clock: NOW });
    const x509 = new X509Certificate(issued.certificatePem);
    expect(x509.subject).toBe(`CN=${DEVICE}\nOU=device`);
    expect(x509.ca).toBe(false);
    expect(x509.subjectAltName).toBeUndefined();
    expect([...(x509.keyUsage ?? [])].sort()).toEqual(
      ["1.3.6.1.5.5.7.3.2", CERTIFICATE_ROLE_OIDS.device].sort(),
    );
    expect(Date.parse(x509.validTo) - Date.parse(x509.validFrom)).toBe(90 * 86_400_000);
    expect(x509.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(issued.serialNumber).toBe(x509.serialNumber.toLowerCase());
    const text = x509.toString();
    expect(text).not.toContain("vault.example");
    // the key in the certificate is the requester's own
    const key = await readFile(join(work.dir, "greedy.key"), "utf8");
    expect(x509.checkPrivateKey((await import("node:crypto")).createPrivateKey(key))).toBe(true);
    // openssl agrees: a TLS client certificate under the CA, not a CA, keyUsage digitalSignature only
    await writeFile(join(work.dir, "device.pem"), issued.certificatePem);
    const shown = await openssl(["x509", "-in", "device.pem", "-noout", "-text"], work.dir);
    expect(shown.stdout).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(shown.stdout).toContain("CA:FALSE");
    const verified = await openssl(
      ["verify", "-attime", "1767225600", "-purpose", "sslclient", "-CAfile", "ca.pem", "device.pem"],
      work.dir,
    );
    expect(verified.stdout + verified.stderr).toContain("device.pem: OK");
  });

  it("issues for an EC P-256 key too (the certificate carries the request's key, openssl verifies it)", async () => {
    const ec = await csr(
      "p256",
      ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
      ["-subj", "/CN=x"],
    );
    const issued = issueDeviceCertificate(ca, ec, { deviceId: DEVICE, clock: NOW });
    const x509 = new X509Certificate(issued.certificatePem);
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const key = await readFile(join(work.dir, "p256.key"), "utf8");
    expect(x509.checkPrivateKey((await import("node:crypto")).createPrivateKey(key))).toBe(true);
    expect(x509.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    await writeFile(join(work.dir, "p256.pem"), issued.certificatePem);
    const verified = await openssl(
      ["verify", "-attime", "1767225600", "-purpose", "sslclient", "-CAfile", "ca.pem", "p256.pem"],
      work.dir,
    );
    expect(verified.stdout + verified.stderr).toContain("p256.pem: OK");
    const shown = await openssl(
      ["x509", "-in", "p256.pem", "-noout", "-ext", "subjectKeyIdentifier"],
      work.dir,
    );
    expect(shown.code).toBe(0);
  }, 30_000);

  it("refuses a request whose self-signature does not verify (no proof of possession)", () => {
    const der = Buffer.from(greedyCsr.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    const last = der.length - 1;
    der[last] = (der[last] ?? 0) ^ 0x01;
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(codeOf(() => issueDeviceCertificate(ca, forged, { deviceId: DEVICE, clock: NOW }))).toBe(
      "ERR_SIGNATURE_INVALID",
    );
  });

  it("refuses weak and unsupported keys", async () => {
    const weak = await csr("weak", ["-newkey", "rsa:2048"], ["-subj", "/CN=x"]);
    expect(codeOf(() => issueDeviceCertificate(ca, weak, { deviceId: DEVICE, clock: NOW }))).toBe(
      "ERR_ALGORITHM_NOT_ALLOWED",
    );
    const ec = await csr("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], ["-subj", "/CN=x"]);
    expect(codeOf(() => issueDeviceCertificate(ca, ec, { deviceId: DEVICE, clock: NOW }))).toBe(
      "ERR_ALGORITHM_NOT_ALLOWED",
    );
  }, 30_000);

  it("refuses garbage", () => {
    const inputs = [
      "",
      "not a pem",
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
      ca.certificatePem,
      `${greedyCsr}${greedyCsr}`,
      "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n",
    ];
    for (const input of inputs) {
      expect(codeOf(() => issueDeviceCertificate(ca, input, { deviceId: DEVICE, clock: NOW }))).toBe(
        "ERR_INVALID_ARGUMENT",
      );
    }
  });
});
