import type { X509Certificate } from "node:crypto";
import { CustodyError } from "@custody/core";
import { type CertificateFacts, readCertificate, readCertificatePem } from "./certificate.js";

/**
 * What each certificate under a vault CA may be used for. Every role is its own extended key usage
 * (under the custody arc, a UUID-derived OID per ITU-T X.667), so a verifier that wants a checkpoint
 * signed by the vault never accepts a collector's signature, and a login never accepts a signer.
 */
export type CertificateRole =
  | "collector"
  | "vault-signer"
  | "script-signer"
  | "person"
  | "device"
  | "server"
  | "device-collector";

/** 2.25.<UUID>: the custody arc. */
export const CUSTODY_OID_ARC = "2.25.250389831834961798017661283825007333629";

export const CERTIFICATE_ROLE_OIDS: Readonly<Record<CertificateRole, string>> = {
  collector: `${CUSTODY_OID_ARC}.1`,
  "vault-signer": `${CUSTODY_OID_ARC}.2`,
  "script-signer": `${CUSTODY_OID_ARC}.3`,
  person: `${CUSTODY_OID_ARC}.4`,
  device: `${CUSTODY_OID_ARC}.5`,
  server: `${CUSTODY_OID_ARC}.6`,
  // an enrolled device's own package signer: CN is the device id, and it is not the vault's collector
  "device-collector": `${CUSTODY_OID_ARC}.7`,
};

/** Roles whose keys make signatures; the other roles are identities (logins, devices, TLS) and never sign. */
export const SIGNING_ROLES: readonly CertificateRole[] = [
  "collector",
  "vault-signer",
  "script-signer",
  "device-collector",
];

export const CERTIFICATE_ROLES = Object.keys(CERTIFICATE_ROLE_OIDS) as readonly CertificateRole[];

/** Standard key purposes (RFC 5280 §4.2.1.12). */
export const KEY_PURPOSE = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  any: "2.5.29.37.0",
} as const;

type KeyUsageName = "digitalSignature" | "nonRepudiation" | "keyEncipherment";

/** The keyUsage bits and standard extended key usage each role is issued with, beside its own OID. */
export const ROLE_PROFILES: Readonly<
  Record<CertificateRole, { keyUsage: readonly KeyUsageName[]; keyPurpose: keyof typeof KEY_PURPOSE }>
> = {
  // emailProtection keeps `openssl cms -verify` (S/MIME signing purpose) working without `-purpose any`
  collector: { keyUsage: ["digitalSignature", "nonRepudiation"], keyPurpose: "emailProtection" },
  "vault-signer": { keyUsage: ["digitalSignature", "nonRepudiation"], keyPurpose: "emailProtection" },
  "script-signer": { keyUsage: ["digitalSignature"], keyPurpose: "codeSigning" },
  person: { keyUsage: ["digitalSignature", "keyEncipherment"], keyPurpose: "clientAuth" },
  device: { keyUsage: ["digitalSignature", "keyEncipherment"], keyPurpose: "clientAuth" },
  server: { keyUsage: ["digitalSignature", "keyEncipherment"], keyPurpose: "serverAuth" },
  "device-collector": { keyUsage: ["digitalSignature", "nonRepudiation"], keyPurpose: "emailProtection" },
};

export function isCertificateRole(value: unknown): value is CertificateRole {
  return typeof value === "string" && Object.hasOwn(CERTIFICATE_ROLE_OIDS, value);
}

export function assertCertificateRole(value: unknown, what: string): asserts value is CertificateRole {
  if (!isCertificateRole(value)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `${what} must be one of ${CERTIFICATE_ROLES.join(", ")}, not ${JSON.stringify(value)}`,
    );
  }
}

/** The custody roles a certificate holds, read from its extended key usage OIDs (none for a foreign one). */
export function certificateRoles(cert: X509Certificate | string): CertificateRole[] {
  const facts = typeof cert === "string" ? readCertificatePem(cert) : readCertificate(cert.raw);
  return rolesOf(facts);
}

export function rolesOf(cert: CertificateFacts): CertificateRole[] {
  const purposes = cert.extendedKeyUsage ?? [];
  return CERTIFICATE_ROLES.filter((role) => purposes.includes(CERTIFICATE_ROLE_OIDS[role]));
}
