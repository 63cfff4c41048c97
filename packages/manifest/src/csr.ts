import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { type Clock, CustodyError, systemClock } from "@custody/core";
import type forge from "node-forge";
import { readCertificatePem } from "./certificate.js";
import { DerReader, DerType, OID, octets, oid, parseDer, pemBlocks, seq, toDer, toPem } from "./der.js";
import { forgeWithPki } from "./forge.js";
import { loadPrivateKey } from "./keys.js";
import { assertCaKey, authorityKeyId, type CertificateAuthority, draft, signTbs } from "./pki.js";
import { CERTIFICATE_ROLE_OIDS, KEY_PURPOSE } from "./roles.js";

/** The smallest RSA key a device certificate is issued for (the vault's own keys are 3072 bits). */
export const MIN_DEVICE_RSA_BITS = 3072;

const DAY_MS = 86_400_000;

/** Signature algorithms a CSR may be signed with, and the digest each one uses. */
const CSR_SIGNATURES: Readonly<Record<string, string>> = {
  [OID.sha256WithRSA]: "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  [OID.ecdsaWithSha256]: "sha256",
  "1.2.840.10045.4.3.3": "sha384",
};

export interface DeviceCertificateOptions {
  /** The device id: the certificate's CN (OU is always `device`). */
  deviceId: string;
  /** 90 days by default (a device collector certificate: 30). */
  validDays?: number;
  clock?: Clock;
}

export interface IssuedFromCsr {
  certificatePem: string;
  /** Lower-case hex, as `X509Certificate.serialNumber` names it. */
  serialNumber: string;
  /** sha256 of the requester's public key (SPKI DER), lower-case hex. */
  publicKeySha256: string;
}

/** What a CSR proves: the key it names, and that its holder signed the request with it. */
interface ProvenRequest {
  publicKey: KeyObject;
  spkiDer: Buffer;
}

/**
 * A device certificate for the key a PKCS#10 request carries. The request's self-signature must verify
 * (its maker holds the key) and the key must be RSA of at least 3072 bits or EC P-256. Nothing else of the request is
 * used: its subject, its attributes and any extensions it asks for (CA:true, other names, other key
 * purposes) are ignored, and the certificate says only CN=<deviceId>, OU=device, clientAuth plus the
 * device role, digitalSignature, for 90 days.
 */
export function issueDeviceCertificate(
  ca: CertificateAuthority,
  csrPem: string,
  options: DeviceCertificateOptions,
): IssuedFromCsr {
  return issueFromRequest(ca, csrPem, options, {
    unit: "device",
    purposes: [KEY_PURPOSE.clientAuth, CERTIFICATE_ROLE_OIDS.device],
    keyUsage: { digitalSignature: true },
    validDays: 90,
  });
}

/**
 * A device's own package signer, for the key a PKCS#10 request carries (checked as for the device
 * certificate): CN=<deviceId>, OU=device-collector, the device-collector role and emailProtection,
 * digitalSignature and nonRepudiation, for 30 days. It signs that device's investigation packages and
 * nothing else: it is not the vault's collector, not a script signer, not a login.
 */
export function issueDeviceCollectorCertificate(
  ca: CertificateAuthority,
  csrPem: string,
  options: DeviceCertificateOptions,
): IssuedFromCsr {
  return issueFromRequest(ca, csrPem, options, {
    unit: "device-collector",
    purposes: [KEY_PURPOSE.emailProtection, CERTIFICATE_ROLE_OIDS["device-collector"]],
    keyUsage: { digitalSignature: true, nonRepudiation: true },
    validDays: 30,
  });
}

interface RequestProfile {
  unit: string;
  purposes: readonly string[];
  keyUsage: Record<string, boolean>;
  validDays: number;
}

function issueFromRequest(
  ca: CertificateAuthority,
  csrPem: string,
  options: DeviceCertificateOptions,
  profile: RequestProfile,
): IssuedFromCsr {
  const request = proveRequest(csrPem);
  const caCert = readCertificatePem(ca.certificatePem, "the CA certificate");
  const caKey = loadPrivateKey(ca.keyPem, ca.passphrase);
  assertCaKey(caCert, caKey);
  const now = (options.clock ?? systemClock).now();
  const requested = now.getTime() + (options.validDays ?? profile.validDays) * DAY_MS;
  const notAfter = new Date(Math.min(requested, caCert.notAfter.getTime()));
  const isRsa = request.publicKey.asymmetricKeyType === "rsa";
  // forge holds RSA keys only: an EC key is drafted with the CA's and its own SPKI put in when signing
  const cert = draft(isRsa ? request.publicKey : caCert.publicKey, options.deviceId, now, notAfter);
  const { UTF8 } = forgeWithPki().asn1.Type;
  cert.setSubject([
    { name: "commonName", value: options.deviceId, valueTagClass: UTF8 },
    { name: "organizationalUnitName", value: profile.unit, valueTagClass: UTF8 },
  ] as unknown as forge.pki.CertificateField[]);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", critical: true, ...profile.keyUsage },
    { id: "2.5.29.37", value: toDer(seq(profile.purposes.map((id) => oid(id)))).toString("binary") },
    { id: "2.5.29.14", value: toDer(octets(subjectKeyId(request.spkiDer))).toString("binary") },
    ...authorityKeyId(caCert),
  ]);
  const der = signTbs(cert, caKey, caCert, isRsa ? undefined : request.spkiDer);
  const certificatePem = toPem("CERTIFICATE", der);
  const facts = readCertificatePem(certificatePem);
  return {
    certificatePem,
    serialNumber: facts.x509.serialNumber.toLowerCase(),
    publicKeySha256: createHash("sha256").update(request.spkiDer).digest("hex"),
  };
}

/** Parses a PEM CSR and checks its self-signature and key; every refusal is a CustodyError. */
export function proveRequest(csrPem: string): ProvenRequest {
  const blocks = typeof csrPem === "string" ? pemBlocks(csrPem, "CERTIFICATE REQUEST") : [];
  const der = blocks[0];
  if (blocks.length !== 1 || der === undefined || der.length === 0) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the request is not one PEM CERTIFICATE REQUEST");
  }
  const reader: DerReader = new DerReader("ERR_INVALID_ARGUMENT", "certificate request");
  const root = parseDer(der, "the certificate request", "ERR_INVALID_ARGUMENT");
  const [info, algorithm, signature] = reader.universal(root, DerType.SEQUENCE, "request");
  const fields = reader.universal(info, DerType.SEQUENCE, "certificationRequestInfo");
  const spki = fields[2];
  if (spki === undefined) reader.fail("certificationRequestInfo has no subjectPKInfo");
  const spkiDer = toDer(spki);
  const publicKey = readPublicKey(spkiDer);
  const algorithmOid = reader.oid(reader.child(algorithm, 0, "signatureAlgorithm"), "signatureAlgorithm");
  const digest = CSR_SIGNATURES[algorithmOid];
  if (digest === undefined) {
    throw new CustodyError(
      "ERR_ALGORITHM_NOT_ALLOWED",
      `the request is signed with ${algorithmOid}; RSA (SHA-256/384/512) or ECDSA (SHA-256/384) is required`,
    );
  }
  const bits = reader.bytes(signature, DerType.BITSTRING, "signature");
  if (bits[0] !== 0) reader.fail("the signature has unused bits");
  if (info === undefined || !verify(digest, toDer(info), publicKey, bits.subarray(1))) {
    throw new CustodyError(
      "ERR_SIGNATURE_INVALID",
      "the request's self-signature does not verify: it was not signed with the key it names",
    );
  }
  return { publicKey, spkiDer };
}

function readPublicKey(spkiDer: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the request's public key cannot be read", { cause });
  }
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength ?? 0;
  if (key.asymmetricKeyType === "rsa" && bits >= MIN_DEVICE_RSA_BITS) return key;
  if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") return key;
  const kind = `${key.asymmetricKeyType ?? "?"}${bits > 0 ? `-${bits}` : ""}${details?.namedCurve === undefined ? "" : ` ${details.namedCurve}`}`;
  throw new CustodyError(
    "ERR_ALGORITHM_NOT_ALLOWED",
    `a device key must be RSA of at least ${MIN_DEVICE_RSA_BITS} bits or EC P-256, not ${kind}`,
    { details: { type: key.asymmetricKeyType ?? "unknown", bits } },
  );
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
function subjectKeyId(spkiDer: Buffer): Buffer {
  const reader: DerReader = new DerReader("ERR_INVALID_ARGUMENT", "public key");
  const bits = reader.bytes(
    reader.child(parseDer(spkiDer, "public key", "ERR_INVALID_ARGUMENT"), 1, "subjectPublicKey"),
    DerType.BITSTRING,
    "subjectPublicKey",
  );
  return createHash("sha1").update(bits.subarray(1)).digest();
}
