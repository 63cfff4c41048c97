export { AzureBlobEvidenceStore } from "./blob-store.js";
export type { AzureBlobEvidenceStoreOptions, TokenCredential } from "./options.js";
