export type { AcquireOptions } from "./acquire.js";
export { acquire } from "./acquire.js";
export type {
  AzureVmAcquisition,
  AzureVmOptions,
  DiskSnapshot,
  VmAcquisitionStep,
  VmDisk,
  VmSnapshotService,
} from "./azure-vm.js";
export { acquireAzureVm } from "./azure-vm.js";
export type { BlobReadOptions } from "./blob-source.js";
export type { DeviceReadOptions } from "./device-reader.js";
