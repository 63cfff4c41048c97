import { createHash, type KeyObject, sign } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type Clock, CustodyError, systemClock, toCustodyError } from "@custody/core";
import { type CertificateFacts, readCertificateBundle, readCertificatePem } from "./certificate.js";
import {
  algorithm,
  contextTag,
  integer,
  OID,
  octets,
  oid,
  parseDer,
  seq,
  setOf,
  sortByDer,
  time,
  toDer,
} from "./der.js";
import { loadPrivateKey } from "./keys.js";
import { assertSigningCertificate } from "./usage.js";

/** Makes a detached CMS signature over exact bytes. A key file, an HSM or a cloud KMS can stand behind it. */
export interface Signer {
  /** PEM certificates, leaf first; they travel inside every signature. */
  readonly certificateChain: readonly string[];
  /** A DER CMS SignedData (RFC 5652) without the content. */
  sign(data: Uint8Array): Promise<Buffer>;
  /** The same signature from the content's SHA-256 alone, so a large file is hashed as a stream. */
  signDigest?(sha256: Uint8Array): Promise<Buffer>;
}

export type SignatureKeyType = "rsa" | "ec";

export interface CmsSignerOptions {
  /** Leaf first, then any intermediates. */
  certificateChainPem: readonly string[];
  keyType: SignatureKeyType;
  /** Signs the DER SET of signed attributes with SHA-256: where an HSM or KMS plugs in. */
  signAttributes(attributesDer: Buffer): Promise<Buffer>;
  clock?: Clock;
}

export interface KeySignerOptions {
  keyPem: string;
  certificatePem: string;
  /** Intermediate certificates (PEM, any number); the root CA may be left out. */
  chainPem?: string;
  passphrase?: string;
  clock?: Clock;
}

/** A Signer over a private key held in memory; the key is decrypted once, here. Identity certificates are refused. */
export function createKeySigner(options: KeySignerOptions): Signer {
  const leaf = readCertificatePem(options.certificatePem, "the signer certificate");
  // refused before the key is opened: an identity certificate is never a reason to ask for a passphrase
  assertSigningCertificate(leaf);
  const key = loadPrivateKey(options.keyPem, options.passphrase);
  if (!leaf.x509.checkPrivateKey(key)) {
    throw new CustodyError("ERR_MALFORMED_KEY", "the private key does not belong to the signer certificate");
  }
  const chain = options.chainPem === undefined ? [] : readCertificateBundle(options.chainPem);
  return createCmsSigner({
    certificateChainPem: [leaf, ...chain].map((cert) => cert.x509.toString()),
    keyType: keyTypeOf(key),
    signAttributes: async (der) => sign("sha256", der, key),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/** Reads a key and certificate from files (the certificate file may carry intermediates after the leaf). */
export async function loadSignerFromFiles(options: {
  keyFile: string;
  certFile: string;
  passphrase?: string;
  clock?: Clock;
}): Promise<Signer> {
  const [keyPem, certPem] = await Promise.all([
    read(options.keyFile, "key"),
    read(options.certFile, "certificate"),
  ]);
  const [leaf, ...chain] = readCertificateBundle(certPem);
  if (leaf === undefined) {
    throw new CustodyError("ERR_MALFORMED_CERTIFICATE", `${options.certFile} holds no PEM certificate`);
  }
  return createKeySigner({
    keyPem,
    certificatePem: leaf.x509.toString(),
    chainPem: chain.map((cert) => cert.x509.toString()).join(""),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

async function read(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read the ${what} file ${file}`);
  }
}

function keyTypeOf(key: KeyObject): SignatureKeyType {
  if (key.asymmetricKeyType === "rsa") return "rsa";
  if (key.asymmetricKeyType === "ec") return "ec";
  throw new CustodyError("ERR_MALFORMED_KEY", `signing keys must be RSA or EC, not ${key.asymmetricKeyType}`);
}

/**
 * Builds the CMS structure around any SHA-256 signing function (RSA PKCS#1 v1.5 or ECDSA). A certificate that
 * may not sign (an identity: person, device, server; no digitalSignature) is ERR_CERT_USAGE here, before
 * anything is signed, by the same rule verifiers apply.
 */
export function createCmsSigner(options: CmsSignerOptions): Signer {
  const certificates = options.certificateChainPem.map((pem) => readCertificatePem(pem));
  const leaf = certificates[0];
  if (leaf === undefined) throw new CustodyError("ERR_INVALID_ARGUMENT", "the certificate chain is empty");
  assertSigningCertificate(leaf);
  const clock = options.clock ?? systemClock;
  const certificateChain = Object.freeze(certificates.map((cert) => cert.x509.toString()));
  const signDigest = async (sha256: Uint8Array): Promise<Buffer> => {
    if (sha256.length !== 32) throw new CustodyError("ERR_INVALID_ARGUMENT", "a SHA-256 digest is 32 bytes");
    const attributes = signedAttributes(Buffer.from(sha256), clock.now());
    const signature = await options.signAttributes(toDer(setOf(attributes)));
    return assemble({ attributes, signature, keyType: options.keyType, leaf, certificates });
  };
  return {
    certificateChain,
    sign: (data: Uint8Array) => signDigest(createHash("sha256").update(data).digest()),
    signDigest,
  };
}

function signedAttributes(digest: Buffer, signingTime: Date): ReturnType<typeof seq>[] {
  const attribute = (id: string, value: ReturnType<typeof seq>) => seq([oid(id), setOf([value])]);
  return [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, time(signingTime)),
    attribute(OID.messageDigest, octets(digest)),
  ];
}

interface Assembly {
  attributes: ReturnType<typeof seq>[];
  signature: Buffer;
  keyType: SignatureKeyType;
  leaf: CertificateFacts;
  certificates: CertificateFacts[];
}

function assemble({ attributes, signature, keyType, leaf, certificates }: Assembly): Buffer {
  const digestAlgorithm = algorithm(OID.sha256, true);
  const signatureAlgorithm =
    keyType === "rsa" ? algorithm(OID.rsaEncryption, true) : algorithm(OID.ecdsaWithSha256, false);
  const signerInfo = seq([
    integer(Buffer.from([1])),
    seq([parseDer(leaf.issuerDer, "issuer", "ERR_MALFORMED_CERTIFICATE"), integer(leaf.serialDer)]),
    digestAlgorithm,
    contextTag(0, sortByDer(attributes)),
    signatureAlgorithm,
    octets(signature),
  ]);
  const certs = certificates.map((cert) => parseDer(cert.der, "certificate", "ERR_MALFORMED_CERTIFICATE"));
  const signedData = seq([
    integer(Buffer.from([1])),
    setOf([algorithm(OID.sha256, true)]),
    seq([oid(OID.data)]),
    contextTag(0, certs),
    setOf([signerInfo]),
  ]);
  return toDer(seq([oid(OID.signedData), contextTag(0, [signedData])]));
}
