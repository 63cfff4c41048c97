import type { KeyObject } from "node:crypto";
import { CustodyError } from "@custody/core";

/** Algorithms accepted when the caller passes no allow-list: RSA PKCS#1 v1.5 and ECDSA with SHA-2. */
export const DEFAULT_ALLOWED_ALGORITHMS: readonly string[] = Object.freeze([
  "rsa-sha256",
  "rsa-sha384",
  "rsa-sha512",
  "ecdsa-sha256",
  "ecdsa-sha384",
  "ecdsa-sha512",
]);

/** RSA keys shorter than this are refused whatever the allow-list says. */
export const MIN_RSA_BITS = 2048;

type KeyKind = "rsa" | "ecdsa";

const DIGESTS: Record<string, string> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
  "1.3.14.3.2.26": "sha1",
  "1.2.840.113549.2.5": "md5",
};

// signature algorithm OID -> key kind and, where the OID names one, its hash
const SIGNATURES: Record<string, { kind: KeyKind; hash?: string }> = {
  "1.2.840.113549.1.1.1": { kind: "rsa" },
  "1.2.840.113549.1.1.11": { kind: "rsa", hash: "sha256" },
  "1.2.840.113549.1.1.12": { kind: "rsa", hash: "sha384" },
  "1.2.840.113549.1.1.13": { kind: "rsa", hash: "sha512" },
  "1.2.840.113549.1.1.5": { kind: "rsa", hash: "sha1" },
  "1.2.840.113549.1.1.4": { kind: "rsa", hash: "md5" },
  "1.2.840.10045.2.1": { kind: "ecdsa" },
  "1.2.840.10045.4.3.2": { kind: "ecdsa", hash: "sha256" },
  "1.2.840.10045.4.3.3": { kind: "ecdsa", hash: "sha384" },
  "1.2.840.10045.4.3.4": { kind: "ecdsa", hash: "sha512" },
  "1.2.840.10045.4.1": { kind: "ecdsa", hash: "sha1" },
};

export interface ResolvedAlgorithm {
  name: string;
  kind: KeyKind;
  hash: string;
}

function notAllowed(message: string, details: Record<string, unknown>): never {
  throw new CustodyError("ERR_ALGORITHM_NOT_ALLOWED", message, { details });
}

/** The CMS signer's algorithm from its digest and signature OIDs, checked against the allow-list. */
export function resolveSignerAlgorithm(
  digestOid: string,
  signatureOid: string,
  allowed: ReadonlySet<string>,
): ResolvedAlgorithm {
  const hash = DIGESTS[digestOid];
  const signature = SIGNATURES[signatureOid];
  if (hash === undefined) notAllowed(`digest algorithm ${digestOid} is not supported`, { oid: digestOid });
  if (signature === undefined) {
    notAllowed(`signature algorithm ${signatureOid} is not supported`, { oid: signatureOid });
  }
  if (signature.hash !== undefined && signature.hash !== hash) {
    notAllowed(`signature algorithm ${signatureOid} does not match digest ${hash}`, { oid: signatureOid });
  }
  return check({ name: `${signature.kind}-${hash}`, kind: signature.kind, hash }, allowed);
}

/** A certificate's own signature algorithm, checked against the allow-list. */
export function resolveCertificateAlgorithm(
  signatureOid: string,
  allowed: ReadonlySet<string>,
): ResolvedAlgorithm {
  const signature = SIGNATURES[signatureOid];
  if (signature?.hash === undefined) {
    notAllowed(`certificate signature algorithm ${signatureOid} is not supported`, { oid: signatureOid });
  }
  return check(
    { name: `${signature.kind}-${signature.hash}`, kind: signature.kind, hash: signature.hash },
    allowed,
  );
}

function check(algorithm: ResolvedAlgorithm, allowed: ReadonlySet<string>): ResolvedAlgorithm {
  if (!allowed.has(algorithm.name)) {
    notAllowed(`algorithm ${algorithm.name} is not in the allow-list`, { algorithm: algorithm.name });
  }
  return algorithm;
}

/** Refuses short RSA keys and keys of a kind the signature algorithm does not name. */
export function assertKeyAllowed(key: KeyObject, kind: KeyKind | undefined, what: string): void {
  const type = key.asymmetricKeyType === "ec" ? "ecdsa" : key.asymmetricKeyType;
  if (type !== "rsa" && type !== "ecdsa") notAllowed(`${what} has a ${type} key`, { keyType: type });
  if (kind !== undefined && type !== kind)
    notAllowed(`${what} has a ${type} key, not ${kind}`, { keyType: type });
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === "rsa" && bits < MIN_RSA_BITS) {
    notAllowed(`${what} has a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`, { bits });
  }
}
