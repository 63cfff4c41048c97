import { createHash, verify } from "node:crypto";
import { type Clock, CustodyError, systemClock } from "@custody/core";
import { assertKeyAllowed, DEFAULT_ALLOWED_ALGORITHMS, resolveSignerAlgorithm } from "../algorithms.js";
import { type CertificateFacts, describeSigner, readCertificateBundle } from "../certificate.js";
import { buildChain, checkChain } from "../chain.js";
import type { ParsedSignedData } from "../cms.js";
import { type MessageImprint, TIMESTAMP_HASH_OIDS } from "./imprint.js";
import { checkSigningCertificateAttribute, type ParsedTimestampToken, parseTimestampToken } from "./token.js";
import { assertTimestampingCertificate } from "./tsa-usage.js";

/** The trust material a token is checked against: passed in, never read from the system. */
export interface TimestampTrust {
  /** PEM certificates of the TSAs' CAs (or of the TSA certificates themselves). */
  trustAnchors: string[];
  /** Policy OIDs accepted; any policy when absent. */
  policies?: string[];
  allowedAlgorithms?: string[];
  /** Only to refuse a token from the future; the token is checked at its own time. */
  clock?: Clock;
}

/** What a verified token attests. */
export interface TimestampInfo {
  /** The TSA's time (genTime): the data existed no later than this. */
  time: Date;
  accuracyMs: number | undefined;
  policy: string;
  serialNumber: string;
  hash: MessageImprint["hash"];
  tsa: { subject: string; fingerprintSha256: string; serialNumber: string };
  /** PEM, the TSA first, ending with the trust anchor. */
  certificateChain: string[];
}

// a TSA's clock may run a little ahead of the verifier's
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Verifies an RFC 3161 token over `imprint`, synchronously and offline: the imprint, the token's own
 * signature and ESS certificate binding, the TSA's timeStamping usage and its chain to `trust.trustAnchors`
 * at the token's time, and the accepted policies. Each failure has its own code.
 */
export function verifyTimestampToken(
  tokenDer: Uint8Array,
  imprint: MessageImprint,
  trust: TimestampTrust,
): TimestampInfo {
  const anchors = readAnchors(trust.trustAnchors);
  const allowed = new Set(trust.allowedAlgorithms ?? DEFAULT_ALLOWED_ALGORITHMS);
  const token = parseTimestampToken(tokenDer);
  checkImprint(token, imprint);
  const { signed, tstInfo } = token;
  const algorithm = resolveSignerAlgorithm(signed.digestAlgorithmOid, signed.signatureAlgorithmOid, allowed);
  checkContentDigest(signed, algorithm.hash);
  const tsa = findTsa(signed, anchors);
  assertKeyAllowed(tsa.publicKey, algorithm.kind, "the TSA certificate");
  checkSigningCertificateAttribute(signed, tsa);
  checkTokenSignature(signed, tsa, algorithm.hash);
  const chain = trustedChain(tsa, signed.certificates, anchors, tstInfo.genTime, allowed);
  checkPolicy(tstInfo.policy, trust.policies);
  checkNotInFuture(tstInfo.genTime, (trust.clock ?? systemClock).now());
  return {
    time: tstInfo.genTime,
    accuracyMs: tstInfo.accuracyMs,
    policy: tstInfo.policy,
    serialNumber: tstInfo.serialNumber,
    hash: tstInfo.imprint.hash,
    tsa: describeSigner(tsa),
    certificateChain: chain.map((cert) => cert.x509.toString()),
  };
}

function readAnchors(pems: readonly string[]): CertificateFacts[] {
  const anchors = pems.flatMap((pem) => readCertificateBundle(pem));
  if (anchors.length === 0)
    throw new CustodyError("ERR_INVALID_ARGUMENT", "no TSA trust anchor certificates given");
  return anchors;
}

function checkImprint({ tstInfo }: ParsedTimestampToken, expected: MessageImprint): void {
  const actual = tstInfo.imprint;
  if (actual.hash !== expected.hash || !actual.digest.equals(expected.digest)) {
    throw new CustodyError("ERR_TIMESTAMP_IMPRINT", "the timestamp token is for other data", {
      details: {
        expected: `${expected.hash}:${expected.digest.toString("hex")}`,
        actual: `${actual.hash}:${actual.digest.toString("hex")}`,
        hashOid: TIMESTAMP_HASH_OIDS[actual.hash],
      },
    });
  }
}

function checkContentDigest(signed: ParsedSignedData, hash: string): void {
  const digest = createHash(hash)
    .update(signed.content ?? Buffer.alloc(0))
    .digest();
  if (!digest.equals(signed.messageDigest)) {
    throw new CustodyError("ERR_TIMESTAMP_INVALID", "the token's TSTInfo does not match its signed digest");
  }
}

// the TSA certificate travels in the token when certReq was set; a configured anchor may also be the TSA itself
function findTsa(signed: ParsedSignedData, anchors: readonly CertificateFacts[]): CertificateFacts {
  const { signer } = signed;
  const found = [...signed.certificates, ...anchors].find((cert) =>
    signer.kind === "issuerAndSerial"
      ? cert.issuerDer.equals(signer.issuerDer) && cert.serialDer.equals(signer.serialDer)
      : cert.subjectKeyIdentifier?.equals(signer.keyIdentifier) === true,
  );
  if (found === undefined) {
    throw new CustodyError("ERR_TIMESTAMP_UNTRUSTED", "the token carries no certificate of its TSA");
  }
  return found;
}

function checkTokenSignature(signed: ParsedSignedData, tsa: CertificateFacts, hash: string): void {
  let valid = false;
  try {
    valid = verify(hash, signed.signedAttributesDer, tsa.publicKey, signed.signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new CustodyError("ERR_TIMESTAMP_INVALID", "the token's signature does not verify");
}

function trustedChain(
  tsa: CertificateFacts,
  pool: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
  at: Date,
  allowed: ReadonlySet<string>,
): CertificateFacts[] {
  try {
    // a TSA certificate configured as its own anchor is trusted as it is (checked like any leaf)
    const chain = anchors.some((anchor) => anchor.der.equals(tsa.der))
      ? [tsa]
      : buildChain(tsa, pool, anchors);
    checkChain(chain, [at], allowed, undefined, assertTimestampingCertificate);
    return chain;
  } catch (cause) {
    if (!(cause instanceof CustodyError) || cause.code.startsWith("ERR_TIMESTAMP_")) throw cause;
    if (cause.code === "ERR_ALGORITHM_NOT_ALLOWED") throw cause;
    throw new CustodyError("ERR_TIMESTAMP_UNTRUSTED", `the TSA is not trusted: ${cause.message}`, { cause });
  }
}

function checkPolicy(policy: string, accepted: readonly string[] | undefined): void {
  if (accepted !== undefined && !accepted.includes(policy)) {
    throw new CustodyError("ERR_TIMESTAMP_UNTRUSTED", `the token's policy ${policy} is not an accepted one`, {
      details: { policy, accepted },
    });
  }
}

function checkNotInFuture(time: Date, now: Date): void {
  if (time.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw new CustodyError(
      "ERR_TIMESTAMP_INVALID",
      `the token's time ${time.toISOString()} is in the future`,
    );
  }
}
