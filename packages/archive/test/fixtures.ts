import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
  type Signer,
} from "@custody/manifest";

export interface TestPki {
  caPem: string;
  signer: Signer;
  signerKeyPem: string;
  signerCertPem: string;
}

/** A throw-away CA and signer (2048-bit keys keep the suite fast). */
export async function createTestPki(): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName: "Test Custody CA", keyBits: 2048 });
  const leaf = await issueCertificate(ca, { commonName: "Test Collector", usage: "signer", keyBits: 2048 });
  const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  return { caPem: ca.certificatePem, signer, signerKeyPem: leaf.keyPem, signerCertPem: leaf.certificatePem };
}

export const device = { id: "device-0042", hostname: "ws-17", os: "linux" };
export const collector = {
  operator: "analyst@example.org",
  tool: "custody-test",
  toolVersion: "0.1.0",
  host: "lab-1",
};
