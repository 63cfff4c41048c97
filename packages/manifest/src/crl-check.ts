import { verify } from "node:crypto";
import { CustodyError } from "@custody/core";
import { resolveCertificateAlgorithm } from "./algorithms.js";
import { type CertificateFacts, KEY_USAGE } from "./certificate.js";
import { integerValue, type ParsedCrl, parseCrl } from "./crl.js";

/** ERR_MALFORMED_CRL unless `issuer` (a CA with cRLSign) signed `crl` with an allowed algorithm. */
export function checkCrlSignature(
  crl: ParsedCrl,
  issuer: CertificateFacts,
  allowed: ReadonlySet<string>,
): void {
  const algorithm = resolveCertificateAlgorithm(crl.signatureAlgorithmOid, allowed);
  if (!issuer.subjectDer.equals(crl.issuerDer) || !issuer.keyUsage?.has(KEY_USAGE.cRLSign)) {
    throw new CustodyError("ERR_MALFORMED_CRL", `the CRL is not issued by ${issuer.x509.subject}`);
  }
  let valid = false;
  try {
    valid = verify(algorithm.hash, crl.tbsDer, issuer.publicKey, crl.signature);
  } catch {
    valid = false; // a signature of the wrong shape is a bad CRL, not a crash
  }
  if (!valid) {
    throw new CustodyError("ERR_MALFORMED_CRL", `the CRL is not signed by its issuer ${issuer.x509.subject}`);
  }
}

/**
 * Checks a CRL's signature by the CA that issued it, then whether it names a certificate on the path. A listed
 * certificate is refused whatever its revocation date, even one after the signing time: a CRL entry carries no
 * reason here, so it may be a key compromise, and whoever holds a compromised key can write any signingTime.
 */
export function applyCrl(
  pem: string,
  chain: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
  allowed: ReadonlySet<string>,
  signingTime: Date,
): void {
  const crl = parseCrl(pem);
  const index = chain.findIndex((cert, i) => i > 0 && cert.subjectDer.equals(crl.issuerDer));
  // a CRL from a CA off this path is still checked, so a tampered issuer name cannot make it be ignored
  const issuer = chain[index] ?? anchors.find((anchor) => anchor.subjectDer.equals(crl.issuerDer));
  if (issuer === undefined) {
    throw new CustodyError(
      "ERR_MALFORMED_CRL",
      "a CRL's issuer is neither a trust anchor nor on the signer's path",
    );
  }
  checkCrlSignature(crl, issuer, allowed);
  if (index < 1) return;
  const subject = chain[index - 1] as CertificateFacts;
  const revokedAt = crl.revoked.get(integerValue(subject.serialDer));
  if (revokedAt === undefined) return;
  throw new CustodyError(
    "ERR_CERT_REVOKED",
    `certificate ${subject.x509.subject} was revoked ${revokedAt.toISOString()}`,
    {
      details: {
        subject: subject.x509.subject,
        revokedAt: revokedAt.toISOString(),
        signingTime: signingTime.toISOString(),
        revokedAfterSigning: revokedAt > signingTime,
      },
    },
  );
}
