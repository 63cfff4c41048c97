export type { AtomicWriteOptions } from "./atomic-write.js";
export { makeDirectoryDurable, syncDirectory, writeFileAtomic } from "./atomic-write.js";
export type { JsonValue } from "./canonical-json.js";
export { canonicalJson, canonicalJsonBytes } from "./canonical-json.js";
export type { Clock } from "./clock.js";
export { fixedClock, systemClock } from "./clock.js";
export type { CollectionSummaryFields } from "./collection-summary.js";
export { formatCollectionSummary, SUMMARY_COLUMNS } from "./collection-summary.js";
export type { CustodyErrorOptions, ErrorCode } from "./errors.js";
export { CustodyError, ERROR_CODES, isCustodyError, throwIfAborted, toCustodyError } from "./errors.js";
export type { FileLock, FileLockOptions } from "./file-lock.js";
export { acquireFileLock, withFileLock } from "./file-lock.js";
export type { IdGenerator } from "./ids.js";
export { sequentialIds, uuidv7Generator } from "./ids.js";
export { mapInOrder } from "./in-order.js";
export type { Logger } from "./logger.js";
export { silentLogger } from "./logger.js";
export {
  assertSafeRelativePath,
  findPathCollision,
  pathCollisionKey,
  unsafePathReason,
} from "./safe-path.js";
export {
  byteSizeSchema,
  digestSetSchema,
  isoTimestampSchema,
  md5HexSchema,
  safeRelativePathSchema,
  sha1HexSchema,
  sha256HexSchema,
  sha512HexSchema,
} from "./schemas.js";
export { noteTransientBytes } from "./transient-bytes.js";
