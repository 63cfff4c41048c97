import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { type Clock, CustodyError, systemClock, toCustodyError } from "@custody/core";
import { CERTIFICATE_ROLE_OIDS } from "@custody/manifest";

/** A person or device as the vault knows them after checking their certificate and key. */
export interface AuthenticatedPrincipal {
  readonly id: string;
  readonly kind: "person" | "device" | "service";
  readonly fingerprintSha256: string;
  readonly serialNumber: string;
  /** Set for a server request: written into the details of every audit record the request causes. */
  readonly request?: RequestContext;
}

/** Which request of which client (a server's request id, the peer address) an operation serves. */
export interface RequestContext {
  readonly requestId: string;
  readonly clientAddress: string;
}

/** Trust material the vault checks identities against. */
export interface IdentityTrust {
  caCertificatePem: string;
  /** Serial numbers (upper-case hex) of revoked identity certificates (a set, or anything that answers `has`). */
  revokedSerials: Pick<ReadonlySet<string>, "has">;
  clock?: Clock;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * An identity file is PEM: the client certificate, then its private key (PKCS#8, encrypted or not), then
 * the vault CA certificate, which a client of the server trusts as the server's issuer. Only the
 * certificate whose public key matches the key is the identity; the others are trust anchors.
 */
export function identityBundle(certificatePem: string, keyPem: string, caCertificatePem?: string): string {
  const ca = caCertificatePem === undefined ? "" : `${caCertificatePem.trim()}\n`;
  return `${certificatePem.trim()}\n${keyPem.trim()}\n${ca}`;
}

export async function readIdentityFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IDENTITY_INVALID", `cannot read identity file ${file}`);
  }
}

/**
 * Checks an identity bundle: the certificate was issued by the vault CA, is valid now, is not revoked,
 * and the caller holds its private key (a fresh challenge is signed and verified).
 */
export function authenticateIdentity(
  bundle: string,
  trust: IdentityTrust,
  passphrase?: string,
): AuthenticatedPrincipal {
  const { certificate, key } = parseBundle(bundle, passphrase);
  checkIssuedByVault(certificate, trust);
  checkLoginRole(certificate);
  proveKeyPossession(certificate, key);
  return principalFromCertificate(certificate);
}

/**
 * Checks a certificate a TLS handshake presented (the handshake proved the key): issued by the vault CA,
 * valid now, not revoked, a login identity. The caller then checks that the log issued it.
 */
export function checkPeerCertificate(
  certificate: X509Certificate,
  trust: IdentityTrust,
): AuthenticatedPrincipal {
  checkIssuedByVault(certificate, trust);
  return loginPrincipal(certificate);
}

/**
 * What a certificate states that never changes (its login role, the principal it names), worked out once
 * per certificate object: a server keeps one per connection and checks it again on every request.
 */
const loginPrincipals = new WeakMap<X509Certificate, AuthenticatedPrincipal>();

function loginPrincipal(certificate: X509Certificate): AuthenticatedPrincipal {
  let principal = loginPrincipals.get(certificate);
  if (principal === undefined) {
    checkLoginRole(certificate);
    principal = Object.freeze(principalFromCertificate(certificate));
    loginPrincipals.set(certificate, principal);
  }
  return principal;
}

function parseBundle(
  bundle: string,
  passphrase: string | undefined,
): { certificate: X509Certificate; key: KeyObject } {
  const blocks = [...bundle.matchAll(PEM_BLOCK)];
  const certPems = blocks.filter((b) => b[1] === "CERTIFICATE").map((b) => b[0]);
  const keyPem = blocks.find((b) => b[1]?.endsWith("PRIVATE KEY"))?.[0];
  if (certPems.length === 0 || keyPem === undefined) {
    throw new CustodyError(
      "ERR_IDENTITY_INVALID",
      "an identity file needs a CERTIFICATE and a PRIVATE KEY block",
    );
  }
  const key = parseKey(keyPem, passphrase);
  return { certificate: certificateOfKey(certPems.map(parseCertificate), key), key };
}

function parseCertificate(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new CustodyError("ERR_IDENTITY_INVALID", "the identity certificate cannot be parsed", { cause });
  }
}

/** The identity is the one certificate made for the key: the CA certificate after it is never the caller. */
function certificateOfKey(certificates: X509Certificate[], key: KeyObject): X509Certificate {
  const publicDer = createPublicKey(key).export({ type: "spki", format: "der" });
  const matching = certificates
    .filter((c) => c.publicKey.export({ type: "spki", format: "der" }).equals(publicDer))
    .filter((c, at, all) => all.findIndex((other) => other.fingerprint256 === c.fingerprint256) === at);
  if (matching.length === 1) return matching[0] as X509Certificate;
  throw new CustodyError(
    "ERR_IDENTITY_INVALID",
    matching.length === 0
      ? "the identity key does not belong to its certificate"
      : "the identity file holds several certificates for its key",
  );
}

function parseKey(keyPem: string, passphrase: string | undefined): KeyObject {
  if (keyPem.includes("ENCRYPTED") && passphrase === undefined) {
    throw new CustodyError(
      "ERR_PASSPHRASE_REQUIRED",
      "the identity key is encrypted: set CUSTODY_IDENTITY_PASSPHRASE",
    );
  }
  try {
    return createPrivateKey(passphrase === undefined ? keyPem : { key: keyPem, passphrase });
  } catch (cause) {
    throw new CustodyError("ERR_IDENTITY_INVALID", "the identity key cannot be read (wrong passphrase?)", {
      cause,
    });
  }
}

// a server authenticates every request: the vault CA is parsed once, not per request
const parsedCas = new Map<string, X509Certificate>();

function caCertificate(pem: string): X509Certificate {
  let ca = parsedCas.get(pem);
  if (ca === undefined) {
    ca = new X509Certificate(pem);
    if (parsedCas.size > 16) parsedCas.clear();
    parsedCas.set(pem, ca);
  }
  return ca;
}

/**
 * Certificates whose signature this process has verified, with the CA certificate (PEM) that signed them:
 * the signature of given bytes under a given key never changes, so a certificate object kept for a
 * connection is verified once. Validity and revocation depend on the time and the log: checked each time.
 */
const verifiedUnder = new WeakMap<X509Certificate, string>();

function checkIssuedByVault(certificate: X509Certificate, trust: IdentityTrust): void {
  if (verifiedUnder.get(certificate) !== trust.caCertificatePem) {
    const ca = caCertificate(trust.caCertificatePem);
    if (!certificate.checkIssued(ca) || !certificate.verify(ca.publicKey)) {
      throw new CustodyError("ERR_IDENTITY_INVALID", "the identity was not issued by this vault's CA");
    }
    verifiedUnder.set(certificate, trust.caCertificatePem);
  }
  const now = (trust.clock ?? systemClock).now().getTime();
  if (now < validity(certificate).from || now > validity(certificate).to) {
    throw new CustodyError(
      "ERR_IDENTITY_INVALID",
      `the identity certificate is not valid now (${certificate.validTo})`,
    );
  }
  if (trust.revokedSerials.has(certificate.serialNumber.toUpperCase())) {
    throw new CustodyError(
      "ERR_IDENTITY_INVALID",
      `the identity certificate ${certificate.serialNumber} is revoked`,
    );
  }
}

const validities = new WeakMap<X509Certificate, { from: number; to: number }>();

/** The certificate's validity as milliseconds (its text dates parsed once per certificate object). */
function validity(certificate: X509Certificate): { from: number; to: number } {
  let known = validities.get(certificate);
  if (known === undefined) {
    known = { from: Date.parse(certificate.validFrom), to: Date.parse(certificate.validTo) };
    validities.set(certificate, known);
  }
  return known;
}

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const LOGIN_ROLES = [CERTIFICATE_ROLE_OIDS.person, CERTIFICATE_ROLE_OIDS.device];

/** Only a login identity logs in: clientAuth and a person or device role, never a signer's certificate. */
function checkLoginRole(certificate: X509Certificate): void {
  const usages = certificate.keyUsage ?? [];
  if (!usages.includes(CLIENT_AUTH) || !usages.some((oid) => LOGIN_ROLES.includes(oid))) {
    throw new CustodyError(
      "ERR_IDENTITY_INVALID",
      "the certificate is not a login identity (it needs clientAuth and a person or device role)",
    );
  }
}

function proveKeyPossession(certificate: X509Certificate, key: KeyObject): void {
  const challenge = randomBytes(32);
  let signature: Buffer;
  try {
    signature = sign("sha256", challenge, key);
  } catch (cause) {
    throw new CustodyError("ERR_IDENTITY_INVALID", "the identity key cannot sign", { cause });
  }
  if (!verify("sha256", challenge, certificate.publicKey, signature)) {
    throw new CustodyError("ERR_IDENTITY_INVALID", "the identity key does not belong to its certificate");
  }
}

/** The principal a verified certificate names: its common name, fingerprint and serial. */
export function principalFromCertificate(certificate: X509Certificate): AuthenticatedPrincipal {
  const commonName = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  if (commonName === undefined)
    throw new CustodyError("ERR_IDENTITY_INVALID", "the identity certificate has no CN");
  const isDevice = (certificate.keyUsage ?? []).includes(CERTIFICATE_ROLE_OIDS.device);
  return {
    id: commonName,
    kind: isDevice ? "device" : "person",
    fingerprintSha256: certificate.fingerprint256.replaceAll(":", "").toLowerCase(),
    serialNumber: certificate.serialNumber.toUpperCase(),
  };
}
