export { bodyChunks } from "./chunks.js";
export type { Sha256Result } from "./digest.js";
export { createVerifyingStream, verifiedReadable } from "./digest.js";
export { EARLY_COPY_MAX_BYTES, type EarlyCopy, startEarlyCopy } from "./early-copy.js";
export type { FsEvidenceStoreOptions } from "./fs-store.js";
export { FsEvidenceStore } from "./fs-store.js";
export type {
  AddressedCreateOptions,
  CreateOptions,
  Enforcement,
  EvidenceStore,
  ListOptions,
  ReadOptions,
  StagedObserver,
  StageObserverFactory,
  StoreCapabilities,
  StoredObject,
  VerifyOptions,
  VerifyResult,
} from "./types.js";
export type { ValidCreateOptions } from "./validate.js";
export {
  assertBody,
  assertValidKey,
  assertValidPrefix,
  EVIDENCE_KEY_PATTERN,
  evidenceKeySchema,
  objectMetadataSchema,
  validateCreateOptions,
  validRetention,
} from "./validate.js";
export { verifyObjects } from "./verify.js";
export { wholeFileSource } from "./whole-file.js";
