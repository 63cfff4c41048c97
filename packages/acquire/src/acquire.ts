import { basename } from "node:path";
import type { DiskImage, ImageSource } from "@custody/audit";
import { type Clock, systemClock } from "@custody/core";
import { hashStream } from "@custody/hash";
import type { AcquisitionSource, AuthenticatedPrincipal, EvidenceItem, Vault } from "@custody/vault";
import { type BlobReadOptions, openBlobSource } from "./blob-source.js";
import { type DeviceReadOptions, readSource } from "./device-reader.js";
import { openLocalSource } from "./local-source.js";
import { ReadErrorLog } from "./read-errors.js";

export interface AcquireOptions extends DeviceReadOptions {
  caseId: string;
  /** The item's name (default: the source's last path segment). */
  name?: string;
  labels?: Record<string, string>;
  retainDays?: number;
  legalHold?: boolean;
  /** Store the image zstd-compressed (digests and `get` stay those of the raw image). */
  compress?: "zstd";
  /** Digests beside sha256 (always: it is the id); default sha1 and md5. */
  alsoDigests?: readonly ("sha1" | "md5")[];
  /** Read the source a second time after the copy and record whether it gave the same sha256. */
  verifySource?: boolean;
  /** For a snapshot SAS URL: retries, timeouts and range size of the HTTP reads. */
  blob?: Omit<BlobReadOptions, "abortSignal">;
  clock?: Clock;
  /** Raw bytes read so far (of the first read). */
  onProgress?: (bytes: number, total: number) => void;
}

/** One readable source: what it is, and a fresh read of it each time `read` is called. */
interface OpenedSource {
  description: ImageSource;
  read(errors: ReadErrorLog): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Acquires a block device, an image file or a snapshot's SAS URL into the vault in one read: sha256,
 * sha1 and md5 of the raw bytes, read errors retried then zero-filled and listed, and the source's
 * identification, times and tool in the item record, bound by the vault's ingest fact.
 */
export async function acquire(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  source: string,
  options: AcquireOptions,
): Promise<EvidenceItem> {
  const clock = options.clock ?? systemClock;
  const opened = await openSource(source, options);
  const errors = new ReadErrorLog();
  const startedAt = clock.now().toISOString();
  try {
    const acquisition: AcquisitionSource = {
      body: opened.read(errors),
      finish: async (raw) => imageFacts(opened, errors, startedAt, raw.sha256, options, clock),
    };
    const total = opened.description.size;
    return await vault.ingestAcquisition(principal, acquisition, {
      caseId: options.caseId,
      name: options.name ?? defaultName(opened.description),
      ...(options.labels === undefined ? {} : { labels: options.labels }),
      ...(options.retainDays === undefined ? {} : { retainDays: options.retainDays }),
      ...(options.legalHold === undefined ? {} : { legalHold: options.legalHold }),
      ...(options.compress === undefined ? {} : { compress: options.compress }),
      ...(options.alsoDigests === undefined ? {} : { alsoDigests: options.alsoDigests }),
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
      ...(options.onProgress === undefined
        ? {}
        : { onProgress: (bytes: number) => options.onProgress?.(bytes, total) }),
    });
  } finally {
    await opened.close();
  }
}

async function imageFacts(
  opened: OpenedSource,
  errors: ReadErrorLog,
  startedAt: string,
  sha256: string,
  options: AcquireOptions,
  clock: Clock,
): Promise<Omit<DiskImage, "storedAs">> {
  const endedAt = clock.now().toISOString();
  const verification =
    options.verifySource === true ? await verifyRead(opened, sha256, options, clock) : undefined;
  return {
    source: opened.description,
    startedAt,
    endedAt,
    ...errors.toRecord(),
    ...(verification === undefined ? {} : { verification }),
  };
}

// The second read goes through the same reader (bad sectors zero-filled again), so a stable source matches.
async function verifyRead(opened: OpenedSource, sha256: string, options: AcquireOptions, clock: Clock) {
  const again = await hashStream(opened.read(new ReadErrorLog()), {
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
  });
  const second = again.digests.sha256 ?? "";
  return { sha256: second, matched: second === sha256, endedAt: clock.now().toISOString() };
}

async function openSource(source: string, options: AcquireOptions): Promise<OpenedSource> {
  if (/^https?:\/\//i.test(source)) {
    const blob = await openBlobSource(source, {
      ...options.blob,
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    });
    return { description: blob.description, read: () => blob.read(), close: async () => {} };
  }
  const local = await openLocalSource(source);
  return {
    description: local.description,
    read: (errors) => readSource(local, errors, options),
    close: () => local.handle.close(),
  };
}

function defaultName(source: ImageSource): string {
  const last = basename(source.path.replace(/\/+$/, ""));
  return last === "" ? "disk-image" : last;
}
