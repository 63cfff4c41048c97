import type { Readable } from "node:stream";
import type { DownloadBody, QuarantineBody, TransferBody } from "../../schemas.js";

/** A file about to be quarantined, as the device hashed it. */
export interface QuarantineFile {
  path: string;
  size: number;
  sha256: string;
  mode: number;
}

/**
 * What remediate, undo and putfile need from the server besides the command frame (the runtime does it
 * over mTLS with the device certificate): a transfer for each file quarantined, and the bytes to put back.
 */
export interface ServerExchange {
  announce(quarantine: QuarantineBody, file: QuarantineFile, signal: AbortSignal): Promise<TransferBody>;
  download(download: DownloadBody, signal: AbortSignal): Promise<Readable>;
}
