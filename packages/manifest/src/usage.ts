import { CustodyError } from "@custody/core";
import { type CertificateFacts, KEY_USAGE } from "./certificate.js";
import { CERTIFICATE_ROLE_OIDS, type CertificateRole, KEY_PURPOSE, rolesOf, SIGNING_ROLES } from "./roles.js";

// a foreign CA's signer may carry a standard purpose instead of a custody role
const SIGNING_PURPOSES: readonly string[] = [
  KEY_PURPOSE.emailProtection,
  KEY_PURPOSE.codeSigning,
  KEY_PURPOSE.any,
  ...SIGNING_ROLES.map((role) => CERTIFICATE_ROLE_OIDS[role]),
];

/**
 * The one rule for "may this certificate make signatures", applied when signing and when verifying:
 * digitalSignature, no identity role (person, device, server), a signing purpose when the extended key usage
 * is present, and with `requiredRole` that role's own OID (a standard purpose or anyExtendedKeyUsage is not it).
 */
export function assertSigningCertificate(cert: CertificateFacts, requiredRole?: CertificateRole): void {
  if (!cert.keyUsage?.has(KEY_USAGE.digitalSignature)) {
    throw usageError(cert, "is not allowed to sign: keyUsage lacks digitalSignature");
  }
  const roles = rolesOf(cert);
  const identity = roles.find((role) => !SIGNING_ROLES.includes(role));
  if (identity !== undefined) {
    throw usageError(cert, `is a ${identity} identity certificate, not a signer`, { roles });
  }
  if (requiredRole !== undefined && !roles.includes(requiredRole)) {
    throw usageError(
      cert,
      `does not hold the ${requiredRole} role (extendedKeyUsage ${CERTIFICATE_ROLE_OIDS[requiredRole]})`,
      { roles, requiredRole },
    );
  }
  const purposes = cert.extendedKeyUsage;
  if (purposes !== undefined && !purposes.some((id) => SIGNING_PURPOSES.includes(id))) {
    throw usageError(
      cert,
      `is not a signing certificate: extendedKeyUsage is ${purposes.join(", ") || "empty"}`,
    );
  }
}

export function usageError(
  cert: CertificateFacts,
  message: string,
  details: Record<string, unknown> = {},
): CustodyError {
  return new CustodyError("ERR_CERT_USAGE", `certificate ${cert.x509.subject} ${message}`, {
    details: { subject: cert.x509.subject, ...details },
  });
}
