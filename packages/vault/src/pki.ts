import { randomBytes, X509Certificate } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { type Clock, CustodyError, systemClock, toCustodyError, writeFileAtomic } from "@custody/core";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createCrl,
  issueCertificate,
  readRevokedSerials,
  revokeCertificates,
} from "@custody/manifest";
import { identityBundle } from "./authenticate.js";

/** The vault's key material, under `<vault>/pki`. Private keys are mode 0600. */
export const PKI_FILES = {
  caCert: "pki/ca.pem",
  caKey: "pki/ca.key",
  crl: "pki/crl.pem",
  collectorCert: "pki/collector.pem",
  collectorKey: "pki/collector.key",
  /** The secret that seals each audit record until a checkpoint signs it. */
  sealKey: "pki/audit-seal.key",
  /** One `<serial>.pem` / `<serial>.key` pair per vault signer; the log says which one is current. */
  signers: "pki/signers",
} as const;

export interface SignerFiles {
  certificatePem: string;
  keyPem: string;
}

export interface VaultPki {
  caCertificatePem: string;
  ca: CertificateAuthority;
  /** Every vault signer on disk, by serial (upper-case hex). */
  signers: Map<string, SignerFiles>;
  sealKey: Buffer;
  /** The CA key's size: identities are issued at the same strength. */
  keyBits: number;
}

export interface KeyOptions {
  clock?: Clock;
  keyBits?: number | undefined;
}

/** A new vault's CA, first signer, collector certificate, seal key and empty CRL. */
export async function createVaultPki(dir: string, vaultId: string, options: KeyOptions = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const keyBits = options.keyBits ?? 3072;
  await mkdir(join(dir, PKI_FILES.signers), { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({ commonName: `custody vault CA ${vaultId}`, clock, keyBits });
  await writeSecret(dir, PKI_FILES.caCert, ca.certificatePem);
  await writeSecret(dir, PKI_FILES.caKey, ca.keyPem);
  const collector = await issueCertificate(ca, {
    commonName: `custody collector ${hostname()}`.slice(0, 64),
    usage: "collector",
    clock,
    keyBits,
  });
  await writeSecret(dir, PKI_FILES.collectorCert, collector.certificatePem);
  await writeSecret(dir, PKI_FILES.collectorKey, collector.keyPem);
  await writeSecret(dir, PKI_FILES.sealKey, randomBytes(32).toString("hex"));
  await writeFileAtomic(join(dir, PKI_FILES.crl), createCrl(ca, [], { clock }), {
    mode: 0o644,
    exclusive: true,
  });
  await issueVaultSigner(dir, ca, vaultId, { clock, keyBits });
}

/** A new vault signer certificate and key, written beside the others; the caller records it in the log. */
export async function issueVaultSigner(
  dir: string,
  ca: CertificateAuthority,
  vaultId: string,
  options: KeyOptions = {},
): Promise<{ serialNumber: string; fingerprintSha256: string; files: SignerFiles }> {
  const issued = await issueCertificate(ca, {
    commonName: `custody vault signer ${vaultId}`.slice(0, 64),
    usage: "vault-signer",
    clock: options.clock ?? systemClock,
    ...(options.keyBits === undefined ? {} : { keyBits: options.keyBits }),
  });
  const x509 = new X509Certificate(issued.certificatePem);
  const serialNumber = x509.serialNumber.toUpperCase();
  await writeSecret(dir, join(PKI_FILES.signers, `${serialNumber}.key`), issued.keyPem);
  await writeSecret(dir, join(PKI_FILES.signers, `${serialNumber}.pem`), issued.certificatePem);
  return {
    serialNumber,
    fingerprintSha256: fingerprintOf(x509),
    files: { certificatePem: issued.certificatePem, keyPem: issued.keyPem },
  };
}

export async function loadVaultPki(dir: string): Promise<VaultPki> {
  const caCertificatePem = await readPkiFile(dir, PKI_FILES.caCert);
  const ca = { certificatePem: caCertificatePem, keyPem: await readPkiFile(dir, PKI_FILES.caKey) };
  const sealHex = (await readPkiFile(dir, PKI_FILES.sealKey)).trim();
  if (!/^[0-9a-f]{64}$/.test(sealHex)) {
    throw new CustodyError("ERR_MALFORMED_KEY", `${join(dir, PKI_FILES.sealKey)} is not a 32-byte hex key`);
  }
  const keyBits = new X509Certificate(caCertificatePem).publicKey.asymmetricKeyDetails?.modulusLength ?? 3072;
  return {
    caCertificatePem,
    ca,
    signers: await loadSigners(dir),
    sealKey: Buffer.from(sealHex, "hex"),
    keyBits,
  };
}

async function loadSigners(dir: string): Promise<Map<string, SignerFiles>> {
  const signers = new Map<string, SignerFiles>();
  const names = await readdir(join(dir, PKI_FILES.signers)).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${join(dir, PKI_FILES.signers)}`);
  });
  for (const name of names) {
    const serial = /^([0-9A-F]+)\.pem$/.exec(name)?.[1];
    if (serial === undefined) continue;
    signers.set(serial, {
      certificatePem: await readPkiFile(dir, join(PKI_FILES.signers, name)),
      keyPem: await readPkiFile(dir, join(PKI_FILES.signers, `${serial}.key`)),
    });
  }
  return signers;
}

/** Identity names become certificate CNs and audit actors: printable, no separators. */
export function assertIdentityName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `'${name}' is not a valid identity name (letters, digits, . _ @ -; at most 64)`,
    );
  }
}

export interface IssuedIdentity {
  identityPem: string;
  serialNumber: string;
  fingerprintSha256: string;
}

/** A login identity (client certificate + key, one PEM bundle) signed by the vault CA. */
export async function issueIdentity(
  pki: VaultPki,
  name: string,
  kind: "person" | "device",
  options: KeyOptions = {},
): Promise<IssuedIdentity> {
  assertIdentityName(name);
  // `D-` names are device ids: a person named like one could be mistaken for (and granted as) a device
  if (kind === "person" && /^D-/i.test(name)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `'${name}' is reserved: names starting with D- are device ids`,
    );
  }
  const issued = await issueCertificate(pki.ca, {
    commonName: name,
    usage: kind,
    clock: options.clock ?? systemClock,
    keyBits: options.keyBits ?? pki.keyBits,
  });
  const x509 = new X509Certificate(issued.certificatePem);
  return {
    identityPem: identityBundle(issued.certificatePem, issued.keyPem, pki.caCertificatePem),
    serialNumber: x509.serialNumber.toUpperCase(),
    fingerprintSha256: fingerprintOf(x509),
  };
}

/** Serials the vault's CRL revokes (a corrupt or foreign CRL is ERR_MALFORMED_CRL). */
export async function revokedOnCrl(dir: string, pki: VaultPki): Promise<Set<string>> {
  return readRevokedSerials(await readPkiFile(dir, PKI_FILES.crl), pki.caCertificatePem);
}

/** Adds serials to the CRL (the log has already recorded the revocation; this makes TLS peers see it). */
export async function revokeOnCrl(
  dir: string,
  pki: VaultPki,
  entries: { serialNumber: string; revokedAt: Date }[],
  clock: Clock,
): Promise<void> {
  if (entries.length === 0) return;
  await revokeCertificates({ crlPath: join(dir, PKI_FILES.crl), ca: pki.ca, entries, clock });
}

export function fingerprintOf(x509: X509Certificate): string {
  return x509.fingerprint256.replaceAll(":", "").toLowerCase();
}

export async function readPkiFile(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${join(dir, file)}`);
  }
}

async function writeSecret(dir: string, file: string, text: string): Promise<void> {
  await writeFileAtomic(join(dir, file), text, { mode: 0o600, exclusive: true });
}
