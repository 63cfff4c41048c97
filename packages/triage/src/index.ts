export type {
  CollectIntoVaultOptions,
  CollectIntoVaultResult,
  CustodyReportFiles,
  TriageVault,
} from "./collect-into-vault.js";
export { collectIntoVault } from "./collect-into-vault.js";
export type { CollectorTool, CollectPackageOptions, CollectPackageResult } from "./collect-package.js";
export { collectPackage, packageName } from "./collect-package.js";
