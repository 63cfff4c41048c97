import { PassThrough, pipeline, Readable } from "node:stream";
import { scopeIdSchema } from "@custody/access";
import { type DiskImage, type ItemRecord, itemRecordSha256 } from "@custody/audit";
import { CustodyError } from "@custody/core";
import { type DigestSet, type HashAlgorithm, ThreadedDigestStream } from "@custody/hash";
import type { AddressedCreateOptions, EvidenceStore } from "@custody/store";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { TOOL, type VaultContext } from "./context.js";
import { FACT, itemTarget } from "./facts.js";
import { type EvidenceItem, encodeItemRecord, itemKey, RECORD_METADATA_KEY } from "./items.js";
import { createCompressor } from "./stored-bytes.js";

const DAY_MS = 86_400_000;

/** A disk image as an acquirer reads it: the raw bytes once, then what it learned while reading them. */
export interface AcquisitionSource {
  /** The raw image, in order, read once. An error (a source that changed, a transport that gave up) stores nothing. */
  readonly body: AsyncIterable<Uint8Array>;
  /**
   * Called once the body has ended, before anything becomes visible, with the raw image's size and
   * sha256: the image's facts (source, times, read errors, a verification read). Throwing stores nothing.
   */
  finish(raw: { size: number; sha256: string }): Promise<Omit<DiskImage, "storedAs">>;
}

export interface AcquisitionOptions {
  caseId: string;
  /** The item's name (default: the source path's last segment). */
  name: string;
  labels?: Record<string, string>;
  retainDays?: number;
  legalHold?: boolean;
  /** Store the image zstd-compressed; the id and digests stay those of the raw bytes. */
  compress?: "zstd";
  /** Digests beside sha256 (always computed: it is the id); default sha1 and md5. */
  alsoDigests?: readonly ("sha1" | "md5")[];
  abortSignal?: AbortSignal;
  /** Raw bytes read so far. */
  onProgress?: (bytes: number) => void;
}

/**
 * Streams a disk image into the vault create-only while computing sha256, sha1 and md5 of its raw
 * bytes in the same read. The item's id is the raw sha256 (what `get` returns and `sha256sum` of the
 * restored image prints); its record, with the image's facts, is bound by the ingest fact.
 */
export async function ingestAcquisitionItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  source: AcquisitionSource,
  options: AcquisitionOptions,
): Promise<EvidenceItem> {
  assertAcquisitionOptions(options);
  const { caseId } = options;
  const request = {
    principal,
    action: "evidence.ingest",
    resource: { kind: "case", caseId },
    target: `case:${caseId}`,
    details: { name: options.name, kind: "disk-image", compress: options.compress ?? "none" },
  } as const;
  return ctx.guard.run(request, async () => {
    const createAddressed = addressedCreate(ctx.store);
    const retainUntil = retentionOf(ctx, options);
    const legalHold = options.legalHold === true;
    // On a worker thread: the store hashes sha256 on this one, so the two run side by side.
    const algorithms = rawAlgorithms(options);
    const digests = algorithms.length === 0 ? new PassThrough() : new ThreadedDigestStream({ algorithms });
    let record: ItemRecord | undefined;
    const place: AddressedCreateOptions["place"] = async (written) => {
      record = await recordOf(ctx, principal, source, options, digests, written);
      const existing = ctx.ledger.item(caseId, record.id);
      if (existing !== undefined && !existing.purged) {
        throw new CustodyError("ERR_ALREADY_EXISTS", `item ${record.id} is already in case ${caseId}`, {
          details: { id: record.id, caseId },
        });
      }
      return {
        key: itemKey(caseId, record.id),
        metadata: { [RECORD_METADATA_KEY]: encodeItemRecord(record) },
      };
    };
    const body = storedBody(source.body, digests, options);
    const stored = await createAddressed(body, {
      place,
      legalHold,
      ...(retainUntil === undefined ? {} : { retainUntil }),
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    }).catch((error: unknown) => {
      // A store that failed before reading it all must not leave the reader and hashing workers running.
      body.destroy();
      throw error;
    });
    if (record === undefined) throw new CustodyError("ERR_INTERNAL", "the store did not place the image");
    const fact = {
      record,
      recordSha256: itemRecordSha256(record),
      legalHold,
      ...(retainUntil === undefined ? {} : { retainUntil: retainUntil.toISOString() }),
    };
    const summary = `disk image ${record.name} acquired into case ${caseId}`;
    await ctx.guard.fact(principal.id, FACT.ingested, itemTarget(caseId, record.id), summary, fact);
    return {
      ...record,
      legalHold,
      storedAt: stored.createdAt.toISOString(),
      ...(retainUntil === undefined ? {} : { retainUntil: retainUntil.toISOString() }),
    };
  });
}

function assertAcquisitionOptions(options: AcquisitionOptions): void {
  if (!scopeIdSchema.safeParse(options.caseId).success) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `'${options.caseId}' is not a case id`);
  }
  if (typeof options.name !== "string" || options.name.length === 0 || options.name.length > 1024) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "an acquisition needs a name of 1 to 1024 characters");
  }
  const also = options.alsoDigests ?? [];
  if (!Array.isArray(also) || also.some((algorithm) => algorithm !== "sha1" && algorithm !== "md5")) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_ALGORITHM",
      "an acquisition's digests beside sha256 are sha1 and md5",
    );
  }
  if (options.compress !== undefined && options.compress !== "zstd") {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `unknown compression '${String(options.compress)}' (zstd)`,
    );
  }
}

function addressedCreate(store: EvidenceStore): NonNullable<EvidenceStore["createAddressed"]> {
  const create = store.createAddressed?.bind(store);
  if (create === undefined) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `the ${store.capabilities.backend} store cannot store a body whose key is known only at its end; acquire into a vault on the filesystem store`,
    );
  }
  return create;
}

/** When an item taken now is retained until: its `retainDays`, else the vault's default; none for 0. */
export function retentionOf(
  ctx: VaultContext,
  options: { retainDays?: number | undefined },
): Date | undefined {
  const days = options.retainDays ?? ctx.config.defaultRetentionDays;
  return days > 0 ? new Date(ctx.clock.now().getTime() + days * DAY_MS) : undefined;
}

// Stored raw, the store's own sha256 is the raw sha256: hashing it twice would cost a pass.
function rawAlgorithms(options: AcquisitionOptions): HashAlgorithm[] {
  const also: HashAlgorithm[] = [...new Set(options.alsoDigests ?? (["sha1", "md5"] as const))];
  return options.compress === undefined ? also : ["sha256", ...also];
}

// One pipeline: an error or a destroy anywhere (a failing source, an aborted store) ends every stage.
function storedBody(
  body: AsyncIterable<Uint8Array>,
  digests: ThreadedDigestStream | PassThrough,
  options: AcquisitionOptions,
): Readable {
  const raw = Readable.from(counted(body, options.onProgress), { objectMode: false, highWaterMark: 4 });
  if (options.compress === undefined) return pipeline(raw, digests, () => {});
  return pipeline(raw, digests, createCompressor(options.compress), () => {});
}

async function* counted(
  body: AsyncIterable<Uint8Array>,
  onProgress: ((bytes: number) => void) | undefined,
): AsyncIterable<Uint8Array> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    onProgress?.(bytes);
    yield chunk;
  }
}

async function recordOf(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  source: AcquisitionSource,
  options: AcquisitionOptions,
  digests: ThreadedDigestStream | PassThrough,
  written: { sha256: string; size: number },
): Promise<ItemRecord> {
  // Without a digest stream (sha256 only, stored raw) the store's digest and size are the raw ones.
  const raw =
    digests instanceof ThreadedDigestStream
      ? digests.result()
      : { size: written.size, digests: {} as DigestSet };
  const sha256 = options.compress === undefined ? written.sha256 : (raw.digests.sha256 ?? "");
  const image = await source.finish({ size: raw.size, sha256 });
  const storedAs =
    options.compress === undefined
      ? {}
      : { storedAs: { encoding: options.compress, sha256: written.sha256, size: written.size } };
  return {
    format: "custody.item/v1",
    id: sha256,
    kind: "file",
    caseId: options.caseId,
    name: options.name,
    labels: options.labels ?? {},
    size: raw.size,
    digests: {
      sha256,
      ...(raw.digests.sha1 === undefined ? {} : { sha1: raw.digests.sha1 }),
      ...(raw.digests.md5 === undefined ? {} : { md5: raw.digests.md5 }),
    },
    acquisition: {
      by: principal.id,
      byFingerprintSha256: principal.fingerprintSha256,
      at: image.startedAt,
      how: "acquire",
      where: ctx.hostname,
      tool: TOOL,
      source: image.source.path,
    },
    image: { ...image, ...storedAs },
  };
}
