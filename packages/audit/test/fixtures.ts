import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
  type Signer,
  type TrustOptions,
} from "@custody/manifest";

export interface TestPki {
  signer: Signer;
  trust: TrustOptions;
  caPem: string;
  leaf: { keyPem: string; certificatePem: string };
}

/** A CA and a checkpoint signer under it; 2048-bit keys keep the suite fast. */
export async function createTestPki(commonName = "Audit Test CA"): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName, keyBits: 2048 });
  const leaf = await issueCertificate(ca, { commonName: "vault", usage: "signer", keyBits: 2048 });
  return {
    signer: createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem }),
    trust: { trustAnchors: [ca.certificatePem] },
    caPem: ca.certificatePem,
    leaf: { keyPem: leaf.keyPem, certificatePem: leaf.certificatePem },
  };
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `custody-audit-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
