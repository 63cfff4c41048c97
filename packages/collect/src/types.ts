import type { Readable } from "node:stream";
import type { Logger } from "@custody/core";
import type { CollectFs } from "./safe-fs.js";

export type CollectPlatform = "linux" | "win32";

export type CollectionStatus = "ok" | "partial" | "failed" | "not-present" | "skipped";

/** One row of CollectionSummary.csv: the same shape as the archive's CollectionSummaryRow. */
export interface CollectionSummaryRow {
  dataPoint: string;
  source: string;
  status: CollectionStatus;
  errorCode?: string;
  startedAt: string;
  durationMs: number;
  files: number;
  bytes: number;
  /** The code page each command's output was decoded with ("850: netstat.exe, arp.exe"); empty off Windows. */
  codePage?: string;
  /** The label table a parser used where labels could not be avoided ("systeminfo: fr"). */
  parserLanguage?: string;
  /** Lines of command output no parser could make sense of (kept in an Unparsed file beside them). */
  unparsedLines?: number;
}

/** How one command's output was read, for the summary. */
export interface ParseReport {
  /** The tool, as its file name (`ipconfig.exe`). */
  tool: string;
  codePage: string;
  /** The language table a label-dependent parser matched, if it needed one. */
  language?: string;
  unparsed: number;
}

export interface EmitMeta {
  /** The file, directory or exact command line the bytes came from. */
  source: string;
}

export interface EmitFileOptions extends EmitMeta {
  /** Follow a symlink at the last step only when its target stays under one of these roots; by default never. */
  followWithin?: readonly string[];
  /** The trusted folder the read starts from (a user's home): no symlink below it is followed. */
  scope?: string;
}

/** What happened to one emitted file. Absence and denial are facts to record, not exceptions. */
export type EmitResult =
  | { kind: "written"; path: string; bytes: number; truncated: boolean }
  | { kind: "absent"; source: string }
  | { kind: "unreadable"; source: string; code: string; reason: string };

export interface CollectContext {
  readonly dataPoint: string;
  readonly abortSignal: AbortSignal;
  readonly logger: Logger;
  readonly limits: CollectLimits;
  /** Every file read, listing and stat a collector makes goes through this (refusals are recorded). */
  readonly fs: CollectFs;
  /** Streams bytes to `<dataPoint>/<relativePath>` in the sink, within the per-file and total caps. */
  emit(relativePath: string, body: Readable | string | Buffer, meta: EmitMeta): Promise<EmitResult>;
  /** Copies a local regular file through `fs` (no symlink below `scope` followed); records absence and denial. */
  emitFile(relativePath: string, absPath: string, options: EmitFileOptions): Promise<EmitResult>;
  /** Records a source that could not be read fully (the data point becomes "partial"). */
  problem(source: string, code: string, reason: string): void;
  /** Records the exact command line of a tool the collector had to run. */
  command(commandLine: string): void;
  /** Records how a command's output was decoded and parsed (code page, language table, unparsed lines). */
  parsed(report: ParseReport): void;
}

export interface Collector {
  readonly name: string;
  readonly platform: CollectPlatform;
  /** RFC 3227 order: lower runs first (0 = network, 1 = processes, 5 = the rest). */
  readonly volatilityRank: number;
  /** Sources in words, for the summary's source column. */
  readonly source: string;
  collect(ctx: CollectContext): Promise<void>;
}

export interface CollectLimits {
  /** Per data point; a hanging collector is cut here and recorded as ERR_TIMEOUT. */
  timeoutMs: number;
  /** Largest single file; longer files are truncated and the data point is "partial". */
  maxFileBytes: number;
  /** Largest total per data point. */
  maxDataPointBytes: number;
  /** Directory entries a listing may visit per data point. */
  maxListEntries: number;
}

export const DEFAULT_LIMITS: CollectLimits = {
  timeoutMs: 60_000,
  maxFileBytes: 64 * 1024 * 1024,
  maxDataPointBytes: 256 * 1024 * 1024,
  maxListEntries: 1_000_000,
};

export interface SinkItemMeta {
  dataPoint: string;
  source: string;
  collectedAt: Date;
}

/** Where collected bytes go. The archive's PackageWriter fits through `packageWriterSink`. */
export interface CollectionSink {
  /** Consumes `body` to its end; `path` is relative to the package's data/ folder. */
  addStream(path: string, body: Readable, meta: SinkItemMeta): Promise<unknown>;
}

export type CollectProgress =
  | { kind: "start"; dataPoint: string; index: number; total: number }
  | { kind: "file"; dataPoint: string; path: string; files: number; bytes: number }
  | { kind: "end"; row: CollectionSummaryRow };
