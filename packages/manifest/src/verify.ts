import { createHash, verify } from "node:crypto";
import { type Clock, CustodyError, systemClock } from "@custody/core";
import { assertKeyAllowed, DEFAULT_ALLOWED_ALGORITHMS, resolveSignerAlgorithm } from "./algorithms.js";
import { type CertificateFacts, describeSigner, readCertificateBundle } from "./certificate.js";
import { buildChain, checkChain } from "./chain.js";
import { type ParsedSignedData, parseSignedData } from "./cms.js";
import { applyCrl } from "./crl-check.js";
import { assertCertificateRole, type CertificateRole } from "./roles.js";
import {
  assertValidAtTimestamp,
  checkSignatureTimestamp,
  type SignatureTimestampOptions,
} from "./timestamp/signature-time.js";
import type { TimestampInfo } from "./timestamp/verify-token.js";

/** Everything verification trusts, passed in: nothing is read from the network, the disk or the system store. */
export interface TrustOptions {
  /** PEM CA certificates (a string may hold several). */
  trustAnchors: string[];
  /** PEM CRLs; a CRL is applied to the certificates its (verified) issuer signed. */
  crls?: string[];
  /** The verification time; certificates must be valid now and at the signing time (see `validity`). */
  clock?: Clock;
  /** e.g. ["rsa-sha256", "ecdsa-sha256"]; DEFAULT_ALLOWED_ALGORITHMS when absent. */
  allowedAlgorithms?: string[];
  /**
   * The role the signer's certificate must hold (its role OID in the extended key usage). When absent, any
   * signing certificate is accepted; an identity (person, device, server) never is.
   */
  requiredRole?: CertificateRole;
  /**
   * When the certificates must be valid: at the signing time and now (the default), or at the signing
   * time alone, for signatures anchored by something newer (a later checkpoint, a timestamp token).
   * A CRL applies in both: a listed certificate is refused whatever its revocation date.
   */
  validity?: "signing-time-and-now" | "signing-time";
  /**
   * The TSAs trusted for the signature's RFC 3161 token. A verified token replaces "now" in the validity
   * check: the certificates must be valid at the signing time and at the token's time, so a signature
   * outlives its certificate. Without this option a token is not checked (reported as unchecked).
   */
  timestamp?: SignatureTimestampOptions;
}

export interface SignatureInfo {
  signer: { subject: string; fingerprintSha256: string; serialNumber: string };
  signingTime: Date;
  /** PEM, leaf first, ending with the trust anchor. */
  certificateChain: string[];
  /** The verified trusted time, when the signature carries a token and `timestamp` trust was given. */
  timestamp?: TimestampInfo;
  /** "unchecked": a token is present but no TSA trust was given; "absent": no token. */
  timestampStatus: "verified" | "unchecked" | "absent";
}

// a signer's clock may run a little ahead of the verifier's
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Verifies a detached CMS SignedData over `content`, synchronously and offline. Throws a CustodyError whose
 * code says what failed; returns who signed and when.
 */
export function verifyDetached(
  content: Uint8Array,
  signatureDer: Uint8Array,
  trust: TrustOptions,
): SignatureInfo {
  return verifyDetachedDigest((hash) => createHash(hash).update(content).digest(), signatureDer, trust);
}

/**
 * verifyDetached for content too large to hold: `digestOf(hash)` returns the content's digest with the
 * hash the signature names (see signatureDigestAlgorithm), computed by streaming.
 */
export function verifyDetachedDigest(
  digestOf: (hash: string) => Uint8Array,
  signatureDer: Uint8Array,
  trust: TrustOptions,
): SignatureInfo {
  const anchors = readTrustAnchors(trust.trustAnchors);
  // options are checked before any work, so a typo in a caller's trust options never weakens verification
  if (trust.requiredRole !== undefined) assertCertificateRole(trust.requiredRole, "requiredRole");
  const times = validityTimes(trust.validity);
  const allowed = new Set(trust.allowedAlgorithms ?? DEFAULT_ALLOWED_ALGORITHMS);
  const now = (trust.clock ?? systemClock).now();
  const parsed = parseSignedData(signatureDer);
  const algorithm = resolveSignerAlgorithm(parsed.digestAlgorithmOid, parsed.signatureAlgorithmOid, allowed);
  checkDigest(Buffer.from(digestOf(algorithm.hash)), parsed.messageDigest);
  const leaf = findSigner(parsed);
  assertKeyAllowed(leaf.publicKey, algorithm.kind, "the signer certificate");
  checkSignature(algorithm.hash, parsed, leaf);
  const signingTime = parsed.signingTime ?? now;
  if (signingTime.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw new CustodyError(
      "ERR_SIGNATURE_INVALID",
      `the signing time ${signingTime.toISOString()} is in the future`,
    );
  }
  const stamp = checkSignatureTimestamp(parsed, trust.timestamp, signingTime);
  const chain = buildChain(leaf, parsed.certificates, anchors);
  if (stamp.kind === "verified") assertValidAtTimestamp(leaf, stamp.info);
  const checkedAt = stamp.kind === "verified" ? [signingTime, stamp.info.time] : times(signingTime, now);
  checkChain(chain, checkedAt, allowed, trust.requiredRole);
  for (const crl of trust.crls ?? []) applyCrl(crl, chain, anchors, allowed, signingTime);
  return {
    signer: describeSigner(leaf),
    signingTime,
    certificateChain: chain.map((cert) => cert.x509.toString()),
    ...(stamp.kind === "verified" ? { timestamp: stamp.info } : {}),
    timestampStatus: stamp.kind,
  };
}

function validityTimes(validity: TrustOptions["validity"]): (signingTime: Date, now: Date) => Date[] {
  switch (validity ?? "signing-time-and-now") {
    case "signing-time-and-now":
      return (signingTime, now) => [signingTime, now];
    case "signing-time":
      return (signingTime) => [signingTime];
    default:
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        `validity must be "signing-time-and-now" or "signing-time", not ${JSON.stringify(validity)}`,
      );
  }
}

// a trust anchor that holds no certificate is a configuration mistake, never silently skipped
function readTrustAnchors(pems: readonly string[]): CertificateFacts[] {
  if (pems.length === 0) throw new CustodyError("ERR_INVALID_ARGUMENT", "no trust anchor certificates given");
  return pems.flatMap((pem, index) => {
    const certificates = readCertificateBundle(pem);
    if (certificates.length === 0) {
      throw new CustodyError("ERR_MALFORMED_CERTIFICATE", `trust anchor ${index} holds no PEM certificate`);
    }
    return certificates;
  });
}

function checkDigest(actual: Buffer, signed: Buffer): void {
  if (!actual.equals(signed)) {
    throw new CustodyError(
      "ERR_DIGEST_MISMATCH",
      "the content does not match the signed digest: it was changed",
      {
        details: { expected: signed.toString("hex"), actual: actual.toString("hex") },
      },
    );
  }
}

function checkSignature(hash: string, parsed: ParsedSignedData, leaf: CertificateFacts): void {
  let valid = false;
  try {
    valid = verify(hash, parsed.signedAttributesDer, leaf.publicKey, parsed.signature);
  } catch {
    valid = false; // a signature value of the wrong shape is an invalid signature, not a crash
  }
  if (!valid)
    throw new CustodyError(
      "ERR_SIGNATURE_INVALID",
      "the signature over the signed attributes does not verify",
    );
}

/** The hash ("sha256", "sha384", ...) a detached signature asks the content to be digested with. */
export function signatureDigestAlgorithm(
  signatureDer: Uint8Array,
  allowedAlgorithms: readonly string[] = DEFAULT_ALLOWED_ALGORITHMS,
): string {
  const parsed = parseSignedData(signatureDer);
  const allowed = new Set(allowedAlgorithms);
  return resolveSignerAlgorithm(parsed.digestAlgorithmOid, parsed.signatureAlgorithmOid, allowed).hash;
}

function findSigner(parsed: ParsedSignedData): CertificateFacts {
  const { signer } = parsed;
  const found = parsed.certificates.find((cert) => {
    switch (signer.kind) {
      case "issuerAndSerial":
        return cert.issuerDer.equals(signer.issuerDer) && cert.serialDer.equals(signer.serialDer);
      case "subjectKeyIdentifier":
        return cert.subjectKeyIdentifier?.equals(signer.keyIdentifier) === true;
      default:
        return signer satisfies never;
    }
  });
  if (found === undefined) {
    throw new CustodyError("ERR_UNTRUSTED_SIGNER", "the signature does not carry its signer's certificate");
  }
  return found;
}
