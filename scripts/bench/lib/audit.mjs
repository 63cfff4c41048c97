// Shared by the audit benchmarks: a vault-signer certificate under a fresh CA, and the record they append.
import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
} from "../../../packages/manifest/dist/index.js";

/** A checkpoint signer as the vault has one (2048-bit keys) and the trust that verifies it. */
export async function vaultSigner() {
  const ca = await createCertificateAuthority({ commonName: "Bench CA", keyBits: 2048 });
  const leaf = await issueCertificate(ca, { commonName: "vault", usage: "vault-signer", keyBits: 2048 });
  const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  return { signer, trust: { trustAnchors: [ca.certificatePem] } };
}

/** The `i`th benchmark event: a typical read of an item, with a digest in its details. */
export const auditEvent = (i) => ({
  actor: "alice@example.org",
  action: "item.read",
  target: `case-2026-001/item-${i}`,
  outcome: "allow",
  reason: "grant g-17: investigator on case-2026-001",
  details: { sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", bytes: 1048576 },
});

/** One record-sized log line, for the raw write+fdatasync peers. */
export const sampleLine = Buffer.from(
  `${JSON.stringify({ ...auditEvent(0), seq: 1, hash: "0".repeat(64), prev: "0".repeat(64) })}\n`,
);
