import { createPublicKey, type KeyObject, randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";
import { type Clock, CustodyError, systemClock } from "@custody/core";
import type forge from "node-forge";
import { type CertificateFacts, readCertificatePem } from "./certificate.js";
import { OID, oid, parseDer, seq, toDer, toPem } from "./der.js";
import { forgeWithPki } from "./forge.js";
import { exportPrivateKey, generateRsaKey, loadPrivateKey } from "./keys.js";
import {
  assertCertificateRole,
  CERTIFICATE_ROLE_OIDS,
  type CertificateRole,
  KEY_PURPOSE,
  ROLE_PROFILES,
} from "./roles.js";

/** A CA as the PKI functions take it: its certificate and (possibly encrypted) PKCS#8 key. */
export interface CertificateAuthority {
  certificatePem: string;
  keyPem: string;
  passphrase?: string;
}

export interface IssuedCertificate {
  certificatePem: string;
  /** PKCS#8 PEM; encrypted when a passphrase was given. */
  keyPem: string;
  /** Lower-case hex, as `X509Certificate.serialNumber` and CRLs name it. */
  serialNumber: string;
}

export interface CreateCaOptions {
  commonName: string;
  keyBits?: number;
  validDays?: number;
  clock?: Clock;
  passphrase?: string;
}

/** A role, or an older name for one: "signer" is a collector, "client" a person. */
export type CertificateUsage = CertificateRole | "signer" | "client" | "code-signing";

export interface IssueOptions {
  commonName: string;
  /** What the certificate is for: its keyUsage, its standard extended key usage and its role's own OID. */
  usage: CertificateUsage;
  keyBits?: number;
  validDays?: number;
  clock?: Clock;
  passphrase?: string;
  /** DNS names and IP addresses the certificate names (subjectAltName), for a server's TLS certificate. */
  subjectAltNames?: readonly string[];
}

const DAY_MS = 86_400_000;

/** A self-signed RSA CA (3072 bits by default) that may sign certificates and CRLs, nothing else. */
export async function createCertificateAuthority(options: CreateCaOptions): Promise<IssuedCertificate> {
  const key = await generateRsaKey(options.keyBits ?? 3072);
  const now = (options.clock ?? systemClock).now();
  const cert = draft(
    key,
    options.commonName,
    now,
    new Date(now.getTime() + (options.validDays ?? 3650) * DAY_MS),
  );
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  const der = signTbs(cert, key, undefined);
  return finish(der, key, options.passphrase);
}

/**
 * A leaf certificate under `ca` for one role (see ROLE_PROFILES): collector, vault-signer and script-signer
 * sign; person, device and server are identities that never sign.
 */
export async function issueCertificate(
  ca: CertificateAuthority,
  options: IssueOptions,
): Promise<IssuedCertificate> {
  const caCert = readCertificatePem(ca.certificatePem, "the CA certificate");
  const caKey = loadPrivateKey(ca.keyPem, ca.passphrase);
  assertCaKey(caCert, caKey);
  const usage = roleExtensions(roleOf(options.usage));
  const key = await generateRsaKey(options.keyBits ?? 3072);
  const now = (options.clock ?? systemClock).now();
  const requested = now.getTime() + (options.validDays ?? 730) * DAY_MS;
  // a leaf never outlives its CA, or it would fail verification before its own expiry
  const notAfter = new Date(Math.min(requested, caCert.notAfter.getTime()));
  const cert = draft(key, options.commonName, now, notAfter);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    ...usage,
    ...subjectAltName(options.subjectAltNames ?? []),
    { name: "subjectKeyIdentifier" },
    ...authorityKeyId(caCert),
  ]);
  const der = signTbs(cert, caKey, caCert);
  return finish(der, key, options.passphrase);
}

/** The role an IssueOptions.usage names ("signer", "client" and "code-signing" are other names for three roles). */
export function roleOf(usage: CertificateUsage): CertificateRole {
  if (usage === "signer") return "collector";
  if (usage === "client") return "person";
  if (usage === "code-signing") return "script-signer";
  assertCertificateRole(usage, "usage");
  return usage;
}

function roleExtensions(role: CertificateRole): object[] {
  const profile = ROLE_PROFILES[role];
  const bits = Object.fromEntries(profile.keyUsage.map((name) => [name, true]));
  const purposes = [KEY_PURPOSE[profile.keyPurpose], CERTIFICATE_ROLE_OIDS[role]];
  // encoded here: forge's OID encoder stops at 32-bit arcs, and the role OIDs have a 128-bit one
  const extendedKeyUsage = toDer(seq(purposes.map((id) => oid(id)))).toString("binary");
  return [
    { name: "keyUsage", critical: true, ...bits },
    { id: "2.5.29.37", value: extendedKeyUsage },
  ];
}

function subjectAltName(names: readonly string[]): object[] {
  if (names.length === 0) return [];
  const altNames = names.map((name) => (isIP(name) === 0 ? { type: 2, value: name } : { type: 7, ip: name }));
  return [{ name: "subjectAltName", altNames }];
}

export function authorityKeyId(caCert: CertificateFacts): object[] {
  const id = caCert.subjectKeyIdentifier;
  return id === undefined ? [] : [{ name: "authorityKeyIdentifier", keyIdentifier: id.toString("binary") }];
}

export function assertCaKey(caCert: CertificateFacts, caKey: KeyObject): void {
  if (!caCert.x509.checkPrivateKey(caKey)) {
    throw new CustodyError("ERR_MALFORMED_KEY", "the CA key does not belong to the CA certificate");
  }
  if (caKey.asymmetricKeyType !== "rsa") {
    throw new CustodyError("ERR_MALFORMED_KEY", "the CA key must be RSA");
  }
}

export function draft(
  key: KeyObject,
  commonName: string,
  notBefore: Date,
  notAfter: Date,
): forge.pki.Certificate {
  if (commonName.length === 0 || commonName.length > 64) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "commonName must be 1 to 64 characters");
  }
  const lib = forgeWithPki();
  const cert = lib.pki.createCertificate();
  const publicKey = key.type === "public" ? key : createPublicKey(key);
  const spki = publicKey.export({ type: "spki", format: "pem" }).toString();
  cert.publicKey = lib.pki.publicKeyFromPem(spki);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  // UTF8String: forge's PrintableString default cannot hold most names (RFC 5280 prefers UTF8String)
  const name = [{ name: "commonName", value: commonName, valueTagClass: lib.asn1.Type.UTF8 }];
  cert.setSubject(name as unknown as forge.pki.CertificateField[]);
  cert.setIssuer(name as unknown as forge.pki.CertificateField[]);
  return cert;
}

/** 16 random bytes, positive and without a leading zero, so the DER INTEGER is exactly these bytes. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return bytes.toString("hex");
}

// present in forge, missing from its type declarations
interface ForgeTbs {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
}

/** forge lays out the TBSCertificate; node:crypto makes the RSA signature (forge's RSA is ~60x slower). */
export function signTbs(
  cert: forge.pki.Certificate,
  signingKey: KeyObject,
  issuer: CertificateFacts | undefined,
  subjectPublicKeyInfo?: Buffer,
): Buffer {
  cert.siginfo.algorithmOid = OID.sha256WithRSA;
  cert.signatureOid = OID.sha256WithRSA;
  const lib = forgeWithPki();
  const tbs = (lib.pki as unknown as ForgeTbs).getTBSCertificate(cert);
  // the issuer is copied byte for byte from the CA's subject, so name matching never depends on re-encoding
  if (issuer !== undefined && Array.isArray(tbs.value)) {
    tbs.value[3] = parseDer(issuer.subjectDer, "CA subject", "ERR_MALFORMED_CERTIFICATE");
  }
  // a key forge cannot hold (EC): its SubjectPublicKeyInfo goes in byte for byte
  if (subjectPublicKeyInfo !== undefined && Array.isArray(tbs.value)) {
    tbs.value[6] = parseDer(subjectPublicKeyInfo, "public key", "ERR_INVALID_ARGUMENT");
  }
  const signature = sign("sha256", toDer(tbs), signingKey);
  cert.signature = signature.toString("binary");
  (cert as { tbsCertificate?: forge.asn1.Asn1 }).tbsCertificate = tbs;
  return toDer(lib.pki.certificateToAsn1(cert));
}

function finish(der: Buffer, key: KeyObject, passphrase: string | undefined): IssuedCertificate {
  const certificatePem = toPem("CERTIFICATE", der);
  const facts = readCertificatePem(certificatePem);
  return {
    certificatePem,
    keyPem: exportPrivateKey(key, passphrase),
    serialNumber: facts.x509.serialNumber.toLowerCase(),
  };
}
