import type { Readable } from "node:stream";
import type { Clock } from "@custody/core";
import type { ManifestCollector, ManifestDevice, Signer } from "@custody/manifest";
import type { CollectionSummaryRow } from "./summary.js";

export interface PackageWriterOptions {
  /** The package's name: the top-level folder in the ZIP and its BagIt External-Identifier. */
  name: string;
  caseId?: string;
  device: ManifestDevice;
  collector: ManifestCollector;
  signer: Signer;
  clock?: Clock;
  /** zlib level for entries that compress (default 6, as `zip -6`). */
  level?: number;
  /** Writes ZIP64 records for every entry (tests and tools that want them); otherwise only where needed. */
  forceZip64?: boolean;
  abortSignal?: AbortSignal;
  onProgress?: (progress: PackageProgress) => void;
}

export interface PackageProgress {
  files: number;
  bytes: number;
}

export interface ItemMeta {
  /** Default: the first folder of the path under data/. */
  dataPoint?: string;
  /** The command or source the bytes came from. */
  source?: string;
  collectedAt?: Date | string;
}

export interface ItemRecord {
  /** Bag-relative path, as both manifests list it: "data/<path under data>". */
  path: string;
  size: number;
  sha256: string;
  compressedSize: number;
  method: "store" | "deflate";
  collectedAt: string;
  dataPoint: string;
  source?: string;
}

export interface PackageResult {
  file: string;
  name: string;
  size: number;
  items: number;
  payloadBytes: number;
  payloadOxum: string;
  manifestSha256: string;
}

export interface PackageWriter {
  addStream(
    pathUnderData: string,
    body: Readable | AsyncIterable<Uint8Array>,
    meta?: ItemMeta,
  ): Promise<ItemRecord>;
  addFile(pathUnderData: string, file: string, meta?: ItemMeta): Promise<ItemRecord>;
  setCollectionSummary(rows: readonly CollectionSummaryRow[]): void;
  finalize(): Promise<PackageResult>;
  abort(reason?: unknown): Promise<void>;
}
