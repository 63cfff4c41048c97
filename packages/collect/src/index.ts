export type { ClockState } from "./clock-state.js";
export { readClockState } from "./clock-state.js";
export type { CsvValue } from "./csv.js";
export { csvCell, csvLine, csvStream, parseCsv, recordsToCsv, toCsv } from "./csv.js";
export type { DeviceIdentity } from "./device.js";
export { deviceIdentity } from "./device.js";
export type { GroupEntry, PasswdEntry } from "./linux/accounts.js";
export { parseGroup, parsePasswd } from "./linux/accounts.js";
export { linuxCollectors } from "./linux/index.js";
export type { PackageRow } from "./linux/packages.js";
export { parseApkInstalled, parseDpkgStatus } from "./linux/packages.js";
export type { SocketRow } from "./linux/proc-net.js";
export { parseProcNetSockets } from "./linux/proc-net.js";
export { platformCollectors } from "./platform.js";
export type { CollectDeviceOptions, CollectionResult } from "./runner.js";
export { COLLECTOR_LOG, collectDevice } from "./runner.js";
export type {
  CollectFs,
  ReadAbsent,
  ReadOptions,
  ReadRefused,
  SafeDir,
  SafeList,
  SafeOpen,
  SafeStat,
} from "./safe-fs.js";
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
  ParseReport,
  SinkItemMeta,
} from "./types.js";
export { DEFAULT_LIMITS } from "./types.js";
export type { Decoded } from "./windows/codepage.js";
export { decodeCodePage, isKnownCodePage, parseChcp } from "./windows/codepage.js";
export { windowsCollectors } from "./windows/collectors.js";
export type { Parsed, UnparsedLine } from "./windows/ledger.js";
export type { ArpRow as WindowsArpRow, DnsCacheRow, KeyValueRow, NetstatRow } from "./windows/network.js";
export { parseArpA, parseDisplayDns, parseIpconfigAll, parseNetstatAno } from "./windows/network.js";
export type { InstalledProgramRow, RegValueRow } from "./windows/registry.js";
export { installedProgramsFromReg, parseRegQuery } from "./windows/registry.js";
export type { LocalGroup, ServiceRow, SystemInfo } from "./windows/system.js";
export {
  parseNetLocalgroupList,
  parseNetLocalgroupMembers,
  parseScQuery,
  parseSystemInfo,
  SYSTEMINFO_LANGUAGES,
} from "./windows/system.js";
export type { HeaderedCsvOptions } from "./windows/tables.js";
export { parseHeaderedCsv, parsePowerShellTable, SCHTASKS_TASK_TO_RUN } from "./windows/tables.js";
