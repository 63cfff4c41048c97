export { BAGIT_TXT, decodeManifestPath, encodeManifestPath, TAG_FILES } from "./bagit.js";
export type { ExtractOptions } from "./extract.js";
export { extractPackage } from "./extract.js";
export type { FedVerification } from "./fed-verify.js";
export { startPackageVerification } from "./fed-verify.js";
export type { PackageDirectoryOptions } from "./package-directory.js";
export { packageDirectory } from "./package-directory.js";
export type { PackageEntry, PackageReader, PackageReaderLimits } from "./package-reader.js";
export { openPackageReader } from "./package-reader.js";
export type {
  ItemMeta,
  ItemRecord,
  PackageProgress,
  PackageResult,
  PackageWriter,
  PackageWriterOptions,
} from "./package-types.js";
export type { PackageVerification, RecordedPackageVerification } from "./package-verification.js";
export { packageVerification } from "./package-verification.js";
export { createPackageWriter } from "./package-writer.js";
export { hasZipMagic } from "./sniff.js";
export type { CollectionSummaryRow } from "./summary.js";
export { collectionSummaryRowSchema, formatCollectionSummary, SUMMARY_COLUMNS } from "./summary.js";
export type { PackageProblem, PackageReport, VerifyOptions, VerifyProgress } from "./verify.js";
export { verifyPackage } from "./verify.js";
export type { ArchiveLimits } from "./zip/entry-checks.js";
