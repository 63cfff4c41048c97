export type { AcquireOptions } from "./acquire.js";
export { acquire } from "./acquire.js";
export type { BlobReadOptions } from "./blob-source.js";
export type { DeviceReadOptions } from "./device-reader.js";
