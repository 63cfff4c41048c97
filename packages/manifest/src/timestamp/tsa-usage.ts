import { CustodyError } from "@custody/core";
import { type CertificateFacts, KEY_USAGE } from "../certificate.js";
import { OID } from "../der.js";

/**
 * RFC 3161 §2.3: the TSA's certificate has one extended key usage, id-kp-timeStamping, marked critical;
 * a keyUsage, when present, allows nothing beyond digitalSignature and nonRepudiation. Any other
 * certificate, even under a trusted CA, is not a time-stamping authority.
 */
export function assertTimestampingCertificate(cert: CertificateFacts): void {
  const purposes = cert.extendedKeyUsage;
  if (purposes === undefined || purposes.length !== 1 || purposes[0] !== OID.timeStamping) {
    throw notTsa(cert, `its extendedKeyUsage is ${purposes?.join(", ") ?? "absent"}, not timeStamping alone`);
  }
  if (!cert.criticalExtensions.includes(OID.extendedKeyUsage)) {
    throw notTsa(cert, "its timeStamping extendedKeyUsage is not critical");
  }
  const allowed = new Set<number>([KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation]);
  const extra = [...(cert.keyUsage ?? [])].filter((bit) => !allowed.has(bit));
  if (extra.length > 0)
    throw notTsa(cert, `its keyUsage allows more than signing (bits ${extra.join(", ")})`);
}

function notTsa(cert: CertificateFacts, reason: string): CustodyError {
  return new CustodyError(
    "ERR_TIMESTAMP_UNTRUSTED",
    `certificate ${cert.x509.subject} is not a time-stamping authority: ${reason}`,
    { details: { subject: cert.x509.subject } },
  );
}
