import { X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { type Clock, CustodyError, systemClock, toCustodyError } from "@custody/core";
import {
  createCertificateAuthority,
  createCrl,
  createKeySigner,
  issueCertificate,
  type Signer,
} from "@custody/manifest";
import { z } from "zod";
import { identityBundle } from "./identity.js";

/** The vault's key material, under `<vault>/pki`. Private keys are mode 0600. */
export const PKI_FILES = {
  caCert: "pki/ca.pem",
  caKey: "pki/ca.key",
  crl: "pki/crl.pem",
  revoked: "pki/revoked.json",
  signerCert: "pki/vault-signer.pem",
  signerKey: "pki/vault-signer.key",
  collectorCert: "pki/collector.pem",
  collectorKey: "pki/collector.key",
} as const;

const revokedSchema = z.array(
  z.strictObject({ serialNumber: z.string(), revokedAt: z.string(), name: z.string(), reason: z.string() }),
);
export type RevokedEntry = z.infer<typeof revokedSchema>[number];

export interface VaultPki {
  caCertificatePem: string;
  caKeyPem: string;
  signer: Signer;
  revoked: RevokedEntry[];
  /** The CA key's size: identities are issued at the same strength. */
  keyBits: number;
}

export interface KeyOptions {
  clock?: Clock;
  keyBits?: number | undefined;
}

export async function createVaultPki(dir: string, vaultId: string, options: KeyOptions = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const keyBits = options.keyBits ?? 3072;
  await mkdir(join(dir, "pki"), { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({ commonName: `custody vault CA ${vaultId}`, clock, keyBits });
  await writeSecret(dir, PKI_FILES.caCert, ca.certificatePem);
  await writeSecret(dir, PKI_FILES.caKey, ca.keyPem);
  const signer = await issueCertificate(ca, {
    commonName: `custody vault signer ${vaultId}`,
    usage: "signer",
    clock,
    keyBits,
  });
  await writeSecret(dir, PKI_FILES.signerCert, signer.certificatePem);
  await writeSecret(dir, PKI_FILES.signerKey, signer.keyPem);
  const collector = await issueCertificate(ca, {
    commonName: `custody collector ${hostname()}`,
    usage: "signer",
    clock,
    keyBits,
  });
  await writeSecret(dir, PKI_FILES.collectorCert, collector.certificatePem);
  await writeSecret(dir, PKI_FILES.collectorKey, collector.keyPem);
  await writeRevoked(dir, ca, [], clock);
}

export async function loadVaultPki(dir: string): Promise<VaultPki> {
  const caCertificatePem = await readPkiFile(dir, PKI_FILES.caCert);
  const caKeyPem = await readPkiFile(dir, PKI_FILES.caKey);
  const signer = createKeySigner({
    keyPem: await readPkiFile(dir, PKI_FILES.signerKey),
    certificatePem: await readPkiFile(dir, PKI_FILES.signerCert),
  });
  const revoked = revokedSchema.parse(JSON.parse(await readPkiFile(dir, PKI_FILES.revoked)));
  const keyBits = new X509Certificate(caCertificatePem).publicKey.asymmetricKeyDetails?.modulusLength ?? 3072;
  return { caCertificatePem, caKeyPem, signer, revoked, keyBits };
}

/** Identity names become certificate CNs and audit actors: printable, no separators. */
export function assertIdentityName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(name)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `'${name}' is not a valid identity name (letters, digits, . _ @ -)`,
    );
  }
}

/** Issues an identity (client certificate + key) signed by the vault CA, as one PEM bundle. */
export async function issueIdentity(pki: VaultPki, name: string, options: KeyOptions = {}): Promise<string> {
  assertIdentityName(name);
  const ca = { certificatePem: pki.caCertificatePem, keyPem: pki.caKeyPem };
  const issued = await issueCertificate(ca, {
    commonName: name,
    usage: "client",
    clock: options.clock ?? systemClock,
    keyBits: options.keyBits ?? pki.keyBits,
  });
  return identityBundle(issued.certificatePem, issued.keyPem);
}

/** Adds a serial to the revocation list and re-issues the CRL; both written atomically. */
export async function revokeSerial(
  dir: string,
  pki: VaultPki,
  entry: RevokedEntry,
  clock: Clock,
): Promise<void> {
  const ca = { certificatePem: pki.caCertificatePem, keyPem: pki.caKeyPem };
  await writeRevoked(dir, ca, [...pki.revoked, entry], clock);
  pki.revoked.push(entry);
}

async function writeRevoked(
  dir: string,
  ca: { certificatePem: string; keyPem: string },
  revoked: RevokedEntry[],
  clock: Clock,
): Promise<void> {
  const crl = createCrl(
    ca,
    revoked.map((r) => ({ serialNumber: r.serialNumber, revokedAt: new Date(r.revokedAt) })),
    { clock },
  );
  await writeAtomic(dir, PKI_FILES.crl, crl, 0o644);
  await writeAtomic(dir, PKI_FILES.revoked, `${JSON.stringify(revoked, null, 2)}\n`, 0o644);
}

export async function readPkiFile(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${join(dir, file)}`);
  }
}

async function writeSecret(dir: string, file: string, text: string): Promise<void> {
  await writeFile(join(dir, file), text, { mode: 0o600, flag: "wx" });
}

export async function writeAtomic(dir: string, file: string, text: string, mode: number): Promise<void> {
  const temp = join(dir, `${file}.${process.pid}.tmp`);
  await writeFile(temp, text, { mode });
  await chmod(temp, mode);
  await rename(temp, join(dir, file));
}
