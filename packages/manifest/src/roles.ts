/**
 * What each certificate under a vault CA may be used for. Every role is its own extended key usage
 * (under the custody arc, a UUID-derived OID per ITU-T X.667), so a verifier that wants a checkpoint
 * signed by the vault never accepts a collector's signature, and a login never accepts a signer.
 */
export type CertificateRole = "collector" | "vault-signer" | "script-signer" | "person" | "device" | "server";

/** 2.25.<UUID>: the custody arc. */
export const CUSTODY_OID_ARC = "2.25.250389831834961798017661283825007333629";

export const CERTIFICATE_ROLE_OIDS: Readonly<Record<CertificateRole, string>> = {
  collector: `${CUSTODY_OID_ARC}.1`,
  "vault-signer": `${CUSTODY_OID_ARC}.2`,
  "script-signer": `${CUSTODY_OID_ARC}.3`,
  person: `${CUSTODY_OID_ARC}.4`,
  device: `${CUSTODY_OID_ARC}.5`,
  server: `${CUSTODY_OID_ARC}.6`,
};
