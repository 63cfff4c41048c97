import { CustodyError } from "@custody/core";
import { assertKeyAllowed, resolveCertificateAlgorithm } from "./algorithms.js";
import { type CertificateFacts, KEY_USAGE } from "./certificate.js";
import type { CertificateRole } from "./roles.js";
import { assertSigningCertificate, usageError } from "./usage.js";

const MAX_DEPTH = 8;

// extensions whose meaning this verifier enforces or that never restrict use; any other critical one is refused
const UNDERSTOOD = new Set([
  "2.5.29.14",
  "2.5.29.15",
  "2.5.29.17",
  "2.5.29.19",
  "2.5.29.32",
  "2.5.29.35",
  "2.5.29.37",
]);

/** True when `issuer`'s name and key produced `child`'s signature (names compared as exact DER). */
function issued(issuer: CertificateFacts, child: CertificateFacts): boolean {
  if (!child.issuerDer.equals(issuer.subjectDer)) return false;
  try {
    return child.x509.verify(issuer.publicKey);
  } catch {
    return false; // a key node:crypto cannot use is simply not the issuer
  }
}

/** The path leaf -> ... -> trust anchor, through certificates carried in the signature. */
export function buildChain(
  leaf: CertificateFacts,
  pool: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
): CertificateFacts[] {
  const chain = [leaf];
  let current = leaf;
  while (chain.length <= MAX_DEPTH) {
    const anchor = anchors.find((candidate) => issued(candidate, current));
    if (anchor !== undefined) return current.der.equals(anchor.der) ? chain : [...chain, anchor];
    const next = pool.find((candidate) => !chain.includes(candidate) && issued(candidate, current));
    if (next === undefined) break;
    chain.push(next);
    current = next;
  }
  throw new CustodyError(
    "ERR_UNTRUSTED_SIGNER",
    `the signer certificate (${leaf.x509.subject}) does not chain to a trusted CA`,
    { details: { subject: leaf.x509.subject, issuer: leaf.x509.issuer } },
  );
}

/** Validity, usage and algorithms of every certificate on the path, at each of `times`. */
export function checkChain(
  chain: readonly CertificateFacts[],
  times: readonly Date[],
  allowed: ReadonlySet<string>,
  requiredRole?: CertificateRole,
  // a timestamp token's leaf is a TSA, held to RFC 3161's rule instead of the signing rule
  checkLeaf: (cert: CertificateFacts) => void = (cert) => assertSigningCertificate(cert, requiredRole),
): void {
  chain.forEach((cert, index) => {
    const isAnchor = index === chain.length - 1 && chain.length > 1;
    // a trust anchor is trusted by configuration, not by its self-signature
    if (!isAnchor) resolveCertificateAlgorithm(cert.signatureAlgorithmOid, allowed);
    assertKeyAllowed(cert.publicKey, undefined, `certificate ${cert.x509.subject}`);
    for (const at of times) checkValidity(cert, at);
    checkCritical(cert);
    if (index === 0) checkLeaf(cert);
    else checkCaUsage(cert);
  });
}

function checkValidity(cert: CertificateFacts, at: Date): void {
  const details = { subject: cert.x509.subject, at: at.toISOString() };
  if (at < cert.notBefore) {
    throw new CustodyError(
      "ERR_CERT_NOT_YET_VALID",
      `certificate ${cert.x509.subject} is not valid before ${cert.notBefore.toISOString()} (checked at ${details.at})`,
      { details: { ...details, notBefore: cert.notBefore.toISOString() } },
    );
  }
  if (at > cert.notAfter) {
    throw new CustodyError(
      "ERR_CERT_EXPIRED",
      `certificate ${cert.x509.subject} expired ${cert.notAfter.toISOString()} (checked at ${details.at})`,
      { details: { ...details, notAfter: cert.notAfter.toISOString() } },
    );
  }
}

function checkCritical(cert: CertificateFacts): void {
  const unknown = cert.criticalExtensions.find((id) => !UNDERSTOOD.has(id));
  if (unknown !== undefined)
    throw usageError(cert, `has a critical extension this verifier does not know (${unknown})`);
}

function checkCaUsage(cert: CertificateFacts): void {
  if (!cert.x509.ca) throw usageError(cert, "signed another certificate but is not a CA (basicConstraints)");
  if (!cert.keyUsage?.has(KEY_USAGE.keyCertSign)) {
    throw usageError(cert, "signed another certificate but keyUsage lacks keyCertSign");
  }
}
