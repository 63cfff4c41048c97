export type { ClockState } from "./clock-state.js";
export { readClockState } from "./clock-state.js";
export type { CsvValue } from "./csv.js";
export { csvCell, csvLine, csvStream, parseCsv, recordsToCsv, toCsv } from "./csv.js";
export type { DeviceIdentity } from "./device.js";
export { deviceIdentity } from "./device.js";
export { linuxCollectors } from "./linux/index.js";
export { platformCollectors } from "./platform.js";
export { SUMMARY_COLUMNS, summaryCsv } from "./run-log.js";
export type { CollectDeviceOptions, CollectionResult } from "./runner.js";
export { COLLECTOR_LOG, collectDevice } from "./runner.js";
export type { PackageWriterLike, SinkItem } from "./sink.js";
export { directorySink, hashingSink, packageWriterSink } from "./sink.js";
export type {
  CollectContext,
  CollectionSink,
  CollectionStatus,
  CollectionSummaryRow,
  CollectLimits,
  Collector,
  CollectPlatform,
  CollectProgress,
  EmitFileOptions,
  EmitMeta,
  EmitResult,
  SinkItemMeta,
} from "./types.js";
export { DEFAULT_LIMITS } from "./types.js";
export { windowsCollectors } from "./windows/collectors.js";
