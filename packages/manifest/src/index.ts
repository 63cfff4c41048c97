export { DEFAULT_ALLOWED_ALGORITHMS, MIN_RSA_BITS } from "./algorithms.js";
export type { ManifestBuilderOptions, ManifestItemInput } from "./builder.js";
export { ManifestBuilder, serializeManifest } from "./builder.js";
export type { CrlOptions, ParsedCrl, RevokedCertificate } from "./crl.js";
export { createCrl, parseCrl } from "./crl.js";
export type { DeviceCertificateOptions, IssuedFromCsr } from "./csr.js";
export { issueDeviceCertificate, issueDeviceCollectorCertificate, MIN_DEVICE_RSA_BITS } from "./csr.js";
export type { KeyPair, KeyPairFiles } from "./keystore.js";
export { keyPairFiles, readKeyPair, writeKeyPair } from "./keystore.js";
export type { ParseManifestOptions } from "./parse.js";
export { parseManifest } from "./parse.js";
export { computeMerkleRoot } from "./paths.js";
export type {
  CertificateAuthority,
  CertificateUsage,
  CreateCaOptions,
  IssuedCertificate,
  IssueOptions,
} from "./pki.js";
export { createCertificateAuthority, issueCertificate } from "./pki.js";
export type { RevocationEntry, RevocationResult, RevokeOptions } from "./revocation.js";
export { initRevocationList, readRevokedSerials, revokeCertificates } from "./revocation.js";
export type { CertificateRole } from "./roles.js";
export {
  CERTIFICATE_ROLE_OIDS,
  CERTIFICATE_ROLES,
  CUSTODY_OID_ARC,
  certificateRoles,
  isCertificateRole,
  SIGNING_ROLES,
} from "./roles.js";
export type {
  CustodyManifest,
  ManifestCase,
  ManifestCollector,
  ManifestDevice,
  ManifestItem,
} from "./schema.js";
export {
  custodyManifestJsonSchema,
  custodyManifestSchema,
  MANIFEST_VERSION,
  manifestCaseSchema,
  manifestCollectorSchema,
  manifestDeviceSchema,
  manifestItemSchema,
} from "./schema.js";
export type { SignedManifest } from "./signed.js";
export { signManifest, verifyManifest } from "./signed.js";
export type { CmsSignerOptions, KeySignerOptions, SignatureKeyType, Signer } from "./signer.js";
export { createCmsSigner, createKeySigner, loadSignerFromFiles } from "./signer.js";
export { addTimestampToken, signatureTimestampImprint, signatureTimestampToken } from "./timestamp/attach.js";
export type { Timestamp, TimestampAuthority, TimestampRequestOptions } from "./timestamp/client.js";
export { requestTimestamp, requestTimestampFromAny } from "./timestamp/client.js";
export type { ClockOffset, ClockOffsetUnavailable } from "./timestamp/clock-offset.js";
export { clockOffsetFrom, measureClockOffset } from "./timestamp/clock-offset.js";
export type { MessageImprint, TimestampHash } from "./timestamp/imprint.js";
export { imprintOf } from "./timestamp/imprint.js";
export type { TimestampRequest } from "./timestamp/request.js";
export { createTimestampRequest, parseTimestampRequest } from "./timestamp/request.js";
export { parseTimestampResponse } from "./timestamp/response.js";
export type { SignatureTimestampOptions } from "./timestamp/signature-time.js";
export type { TimestampingOptions, TimestampOutcome } from "./timestamp/timestamping-signer.js";
export { timestampingSigner } from "./timestamp/timestamping-signer.js";
export type { TimestampInfo, TimestampTrust } from "./timestamp/verify-token.js";
export { verifyTimestampToken } from "./timestamp/verify-token.js";
export type { SignatureInfo, TrustOptions } from "./verify.js";
export { signatureDigestAlgorithm, verifyDetached, verifyDetachedDigest } from "./verify.js";
