import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, fixedClock } from "@custody/core";
import {
  CERTIFICATE_ROLE_OIDS,
  certificateRoles,
  createCertificateAuthority,
  createKeySigner,
  type IssuedCertificate,
  issueDeviceCollectorCertificate,
  verifyDetached,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openssl, tempDir } from "./fixtures.js";

const NOW = fixedClock("2026-01-01T00:00:00.000Z");
const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";
let ca: IssuedCertificate;
let work: { dir: string; remove(): Promise<void> };
let csrPem: string;
let keyPem: string;

beforeAll(async () => {
  work = await tempDir("device-collector");
  ca = await createCertificateAuthority({ commonName: "Test Vault CA", keyBits: 3072, clock: NOW });
  const made = await openssl(
    [
      "req",
      "-new",
      "-newkey",
      "rsa:3072",
      "-nodes",
      "-keyout",
      "dc.key",
      "-out",
      "dc.csr",
      "-subj",
      "/CN=custody collector/OU=collector",
      "-addext",
      "extendedKeyUsage=codeSigning",
    ],
    work.dir,
  );
  expect(made.code, made.stderr).toBe(0);
  csrPem = await readFile(join(work.dir, "dc.csr"), "utf8");
  keyPem = await readFile(join(work.dir, "dc.key"), "utf8");
}, 60_000);

afterAll(() => work.remove());

describe("issueDeviceCollectorCertificate", () => {
  it("binds the key to the device id with the device-collector role only, whatever the request asks", () => {
    const issued = issueDeviceCollectorCertificate(ca, csrPem, { deviceId: DEVICE, clock: NOW });
    expect(certificateRoles(issued.certificatePem)).toEqual(["device-collector"]);
    const signer = createKeySigner({ keyPem, certificatePem: issued.certificatePem, clock: NOW });
    expect(signer.certificateChain[0]).toContain("BEGIN CERTIFICATE");
    const text = issued.certificatePem;
    expect(text).not.toContain(CERTIFICATE_ROLE_OIDS.collector);
  });

  it("signs as the device's collector, which no verifier takes for the vault's collector or a script signer", async () => {
    const issued = issueDeviceCollectorCertificate(ca, csrPem, { deviceId: DEVICE, clock: NOW });
    const signer = createKeySigner({ keyPem, certificatePem: issued.certificatePem, clock: NOW });
    const content = Buffer.from("package manifest");
    const signature = await signer.sign(content);
    const trust = { trustAnchors: [ca.certificatePem], clock: NOW };
    expect(
      verifyDetached(content, signature, { ...trust, requiredRole: "device-collector" }).signer.subject,
    ).toContain(`CN=${DEVICE}`);
    for (const role of ["collector", "script-signer", "vault-signer"] as const) {
      let code = "no error";
      try {
        verifyDetached(content, signature, { ...trust, requiredRole: role });
      } catch (error) {
        code = (error as CustodyError).code;
      }
      expect(code, role).toBe("ERR_CERT_USAGE");
    }
  });

  it("refuses a request that does not prove its key", () => {
    expect(() => issueDeviceCollectorCertificate(ca, "not a csr", { deviceId: DEVICE, clock: NOW })).toThrow(
      CustodyError,
    );
  });
});
