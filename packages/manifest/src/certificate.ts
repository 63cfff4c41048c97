import { type KeyObject, X509Certificate } from "node:crypto";
import { CustodyError } from "@custody/core";
import { type Asn1, DerReader, DerType, OID, parseDer, pemBlocks, toDer } from "./der.js";

/** What the verifier needs from a certificate beyond node:crypto's X509Certificate. */
export interface CertificateFacts {
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly signatureAlgorithmOid: string;
  readonly der: Buffer;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly serialDer: Buffer;
  /** The keyUsage bits (digitalSignature = 0 ... cRLSign = 6), or undefined without the extension. */
  readonly keyUsage: ReadonlySet<number> | undefined;
  readonly subjectKeyIdentifier: Buffer | undefined;
  /** The extendedKeyUsage OIDs, or undefined without the extension. */
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly criticalExtensions: readonly string[];
}

export const KEY_USAGE = { digitalSignature: 0, nonRepudiation: 1, keyCertSign: 5, cRLSign: 6 } as const;

const SUBJECT_KEY_IDENTIFIER = "2.5.29.14";
const EXTENDED_KEY_USAGE = "2.5.29.37";

/** Reads a DER certificate; anything node:crypto or the structure reader refuses is ERR_MALFORMED_CERTIFICATE. */
export function readCertificate(der: Buffer): CertificateFacts {
  let x509: X509Certificate;
  let publicKey: KeyObject;
  try {
    x509 = new X509Certificate(der);
    // read eagerly: the getter throws on a key OpenSSL cannot decode, and later code must not crash
    publicKey = x509.publicKey;
  } catch (cause) {
    throw new CustodyError("ERR_MALFORMED_CERTIFICATE", "a certificate cannot be parsed", { cause });
  }
  const reader: DerReader = new DerReader("ERR_MALFORMED_CERTIFICATE", "certificate");
  const root = parseDer(der, "certificate", "ERR_MALFORMED_CERTIFICATE");
  const tbs = reader.child(root, 0, "tbsCertificate");
  const fields = reader.children(tbs, "tbsCertificate");
  const offset = reader.isContext(fields[0], 0) ? 1 : 0;
  const extensions = readExtensions(reader, fields.slice(offset + 6));
  const validity = reader.child(tbs, offset + 3, "validity");
  // read from the DER rather than from X509Certificate getters that only newer Node versions have
  return {
    x509,
    publicKey,
    der,
    notBefore: reader.time(reader.child(validity, 0, "notBefore"), "notBefore"),
    notAfter: reader.time(reader.child(validity, 1, "notAfter"), "notAfter"),
    signatureAlgorithmOid: reader.oid(
      reader.child(reader.child(root, 1, "signatureAlgorithm"), 0, "algorithm"),
      "algorithm",
    ),
    serialDer: reader.integerBytes(fields[offset], "serialNumber"),
    issuerDer: toDer(reader.child(tbs, offset + 2, "issuer")),
    subjectDer: toDer(reader.child(tbs, offset + 4, "subject")),
    keyUsage: extensions.keyUsage,
    subjectKeyIdentifier: extensions.subjectKeyIdentifier,
    extendedKeyUsage: extensions.extendedKeyUsage,
    criticalExtensions: extensions.critical,
  };
}

export function readCertificatePem(pem: string, what = "certificate"): CertificateFacts {
  const [der, ...rest] = pemBlocks(pem, "CERTIFICATE");
  if (der === undefined || rest.length > 0) {
    throw new CustodyError("ERR_MALFORMED_CERTIFICATE", `${what} must be exactly one PEM certificate`);
  }
  return readCertificate(der);
}

/** All certificates in a PEM bundle (a chain file or a CA file with several anchors). */
export function readCertificateBundle(pem: string): CertificateFacts[] {
  return pemBlocks(pem, "CERTIFICATE").map(readCertificate);
}

interface Extensions {
  keyUsage: Set<number> | undefined;
  subjectKeyIdentifier: Buffer | undefined;
  extendedKeyUsage: string[] | undefined;
  critical: string[];
}

function readExtensions(reader: DerReader, optional: Asn1[]): Extensions {
  const result: Extensions = {
    keyUsage: undefined,
    subjectKeyIdentifier: undefined,
    extendedKeyUsage: undefined,
    critical: [],
  };
  const wrapper = optional.find((node) => reader.isContext(node, 3));
  if (wrapper === undefined) return result;
  for (const extension of reader.children(reader.child(wrapper, 0, "extensions"), "extensions")) {
    const parts = reader.children(extension, "extension");
    const id = reader.oid(parts[0], "extension id");
    const critical = parts.length === 3 && reader.bytes(parts[1], DerType.BOOLEAN, "critical")[0] !== 0;
    const value = reader.bytes(parts[parts.length - 1], DerType.OCTETSTRING, "extension value");
    if (critical) result.critical.push(id);
    if (id === OID.keyUsage) result.keyUsage = keyUsageBits(reader, value);
    if (id === EXTENDED_KEY_USAGE) result.extendedKeyUsage = extendedKeyUsage(reader, value);
    if (id === SUBJECT_KEY_IDENTIFIER) {
      result.subjectKeyIdentifier = reader.bytes(
        parseDer(value, "subjectKeyIdentifier", "ERR_MALFORMED_CERTIFICATE"),
        DerType.OCTETSTRING,
        "subjectKeyIdentifier",
      );
    }
  }
  return result;
}

function keyUsageBits(reader: DerReader, value: Buffer): Set<number> {
  const bits = reader.bytes(
    parseDer(value, "keyUsage", "ERR_MALFORMED_CERTIFICATE"),
    DerType.BITSTRING,
    "keyUsage",
  );
  const set = new Set<number>();
  for (let bit = 0; bit < (bits.length - 1) * 8; bit++) {
    const byte = bits[1 + (bit >> 3)] ?? 0;
    if (byte & (0x80 >> (bit & 7))) set.add(bit);
  }
  return set;
}

function extendedKeyUsage(reader: DerReader, value: Buffer): string[] {
  const list = parseDer(value, "extendedKeyUsage", "ERR_MALFORMED_CERTIFICATE");
  return reader
    .universal(list, DerType.SEQUENCE, "extendedKeyUsage")
    .map((node) => reader.oid(node, "KeyPurposeId"));
}

/** The signer identity reported to callers and written into audit records. */
export function describeSigner(cert: CertificateFacts): {
  subject: string;
  fingerprintSha256: string;
  serialNumber: string;
} {
  return {
    subject: cert.x509.subject,
    fingerprintSha256: cert.x509.fingerprint256.replaceAll(":", "").toLowerCase(),
    serialNumber: cert.x509.serialNumber.toLowerCase(),
  };
}

export function certificatePem(cert: CertificateFacts): string {
  return cert.x509.toString();
}
