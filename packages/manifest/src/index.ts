export { DEFAULT_ALLOWED_ALGORITHMS, MIN_RSA_BITS } from "./algorithms.js";
export type { CrlOptions, ParsedCrl, RevokedCertificate } from "./crl.js";
export { createCrl, parseCrl } from "./crl.js";
export type { KeyPair, KeyPairFiles } from "./keystore.js";
export { keyPairFiles, readKeyPair, writeKeyPair } from "./keystore.js";
export type {
  CertificateAuthority,
  CertificateUsage,
  CreateCaOptions,
  IssuedCertificate,
  IssueOptions,
} from "./pki.js";
export { createCertificateAuthority, issueCertificate } from "./pki.js";
export type { CmsSignerOptions, KeySignerOptions, SignatureKeyType, Signer } from "./signer.js";
export { createCmsSigner, createKeySigner, loadSignerFromFiles } from "./signer.js";
export type { SignatureInfo, TrustOptions } from "./verify.js";
export { verifyDetached } from "./verify.js";
