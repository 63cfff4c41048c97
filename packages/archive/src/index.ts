export {
  BAGIT_TXT,
  decodeManifestPath,
  encodeManifestPath,
  TAG_FILES,
} from "./bagit.js";
export type {
  ItemMeta,
  ItemRecord,
  PackageProgress,
  PackageResult,
  PackageWriter,
  PackageWriterOptions,
} from "./package-writer.js";
export { createPackageWriter } from "./package-writer.js";
export type { CollectionSummaryRow } from "./summary.js";
export { collectionSummaryRowSchema, formatCollectionSummary, SUMMARY_COLUMNS } from "./summary.js";
