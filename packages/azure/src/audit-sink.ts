import {
  type AuditLog,
  type AuditLogOptions,
  type AuditSink,
  openAuditLog,
  type SinkRecovery,
} from "@custody/audit";
import { CustodyError } from "@custody/core";
import {
  type AzureAuditLocation,
  AzureAuditSource,
  auditAzureError,
  checkpointBlobName,
  type SegmentInfo,
} from "./audit-source.js";

export interface AzureAuditSinkOptions extends AzureAuditLocation {
  /** Start a new segment before one grows past this many bytes (default 1 GiB; the service allows ~195 GiB). */
  maxSegmentBytes?: number;
  /** Start a new segment before one has this many blocks (default 49,000; the service's limit is 50,000). */
  maxSegmentBlocks?: number;
  /**
   * Several processes (vault replicas) append to this log: a lost append race leaves the sink usable (the
   * log catches up and its callers decide again) instead of stopping this writer.
   */
  shared?: boolean;
}

/** A claim on a checkpoint's successor older than this, whose checkpoint never appeared, was abandoned. */
const STALE_CLAIM_MS = 120_000;

/** The service's largest append block; bigger batches are split at line ends. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * The Azure sink: the log is a series of append blobs (segments). Every append is conditioned on the
 * append position this writer expects, so a second writer's append fails (ERR_AUDIT_RACE) instead of
 * interleaving; a full segment is sealed (conditioned the same way) before the next is created
 * create-only, so nobody can append to a segment once a later one exists. Checkpoints are create-only
 * block blobs. Several writers may open the log; all but one lose their first race and stop.
 */
export class AzureAuditSink extends AzureAuditSource implements AuditSink {
  readonly recoveries: SinkRecovery[] = [];
  #size = 0;
  #current: SegmentInfo = { index: 0, length: 0, blocks: 0, sealed: true };
  #failure: CustodyError | undefined;
  #closed = false;
  readonly #maxBytes: number;
  readonly #maxBlocks: number;
  readonly #sharedWriters: boolean;

  private constructor(options: AzureAuditSinkOptions) {
    super(options);
    this.#sharedWriters = options.shared === true;
    this.#maxBytes = options.maxSegmentBytes ?? 1024 * 1024 * 1024;
    this.#maxBlocks = options.maxSegmentBlocks ?? 49_000;
    if (!(this.#maxBlocks >= 1 && this.#maxBytes >= MAX_BLOCK_BYTES / 64)) {
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        "maxSegmentBlocks must be >= 1 and maxSegmentBytes >= 64 KiB",
      );
    }
  }

  /** Opens (creating the container if needed) and sets aside half-written checkpoints. */
  static async open(options: AzureAuditSinkOptions): Promise<AzureAuditSink> {
    const sink = new AzureAuditSink(options);
    try {
      await sink.container.createIfNotExists();
    } catch (error) {
      throw auditAzureError(error, `cannot open the audit container ${sink.description}`);
    }
    const segments = await sink.listSegments();
    sink.#size = segments.reduce((sum, s) => sum + s.length, 0);
    // No segment yet: the first append creates segment 0 (as if a sealed segment -1 preceded it).
    sink.#current = segments.at(-1) ?? { index: -1, length: 0, blocks: 0, sealed: true };
    // Another replica may be between the two halves of its checkpoint right now: not a crash to repair.
    if (!sink.#sharedWriters) await sink.setAsideIncompleteCheckpoints();
    return sink;
  }

  get size(): number {
    return this.#size;
  }

  override readBytes(
    options: { start?: number; end?: number; abortSignal?: AbortSignal } = {},
  ): AsyncIterable<Uint8Array> {
    return super.readBytes({ ...options, end: Math.min(options.end ?? this.#size, this.#size) });
  }

  async append(lines: Buffer): Promise<void> {
    this.assertUsable();
    try {
      for (const block of splitAtLines(lines, MAX_BLOCK_BYTES)) await this.appendBlock(block);
    } catch (error) {
      const failure = auditAzureError(error, `audit append to ${this.description} failed`);
      // A lost race stored nothing (the condition failed): the writer catches up and tries again.
      if (!(this.#sharedWriters && failure.code === "ERR_AUDIT_RACE")) this.#failure = failure;
      throw failure;
    }
  }

  /** The shared-writer part (see SharedAuditSink in @custody/audit); `shared` is true only when asked for. */
  get shared(): true | undefined {
    return this.#sharedWriters ? true : undefined;
  }

  /** Follows the current segment to its stored end, and on to the next ones another writer created. */
  async refreshTail(): Promise<void> {
    this.assertUsable();
    try {
      for (;;) {
        const current = this.#current;
        if (current.index >= 0) {
          const properties = await this.segmentClient(current.index).getProperties();
          const length = properties.contentLength ?? 0;
          this.#size += length - current.length;
          this.#current = {
            index: current.index,
            length,
            blocks: properties.blobCommittedBlockCount ?? 0,
            sealed: properties.isSealed === true,
          };
        }
        if (current.index >= 0 && !this.#current.sealed) return;
        const next = this.segmentClient(current.index + 1);
        if (!(await next.exists())) return;
        this.#current = { index: current.index + 1, length: 0, blocks: 0, sealed: false };
      }
    } catch (error) {
      throw auditAzureError(error, `cannot follow the audit log ${this.description}`);
    }
  }

  readRange(start: number, end: number): AsyncIterable<Uint8Array> {
    const base = this.#size - this.#current.length;
    // The usual catch-up: a few records at the end of the current segment, one ranged read.
    if (start >= base && end <= this.#size) return this.readSegmentRange(start - base, end - start);
    return this.readBytes({ start, end });
  }

  private async *readSegmentRange(offset: number, count: number): AsyncIterable<Uint8Array> {
    if (count <= 0) return;
    try {
      const response = await this.segmentClient(this.#current.index).download(offset, count);
      for await (const chunk of response.readableStreamBody ?? []) yield chunk as Buffer;
    } catch (error) {
      throw auditAzureError(error, `cannot read the tail of ${this.description}`);
    }
  }

  async claimCheckpoint(after: number, treeSize: number): Promise<boolean> {
    const claim = this.container.getBlockBlobClient(
      `${this.prefix}checkpoints/${checkpointBlobName(after, "json")}.next`,
    );
    const body = JSON.stringify({ treeSize, claimedAt: new Date().toISOString() });
    try {
      await claim.upload(body, Buffer.byteLength(body), { conditions: { ifNoneMatch: "*" } });
      return true;
    } catch (error) {
      const mapped = auditAzureError(error, `cannot claim the checkpoint after ${after}`);
      if (mapped.code !== "ERR_ALREADY_EXISTS") throw mapped;
    }
    await this.breakStaleClaim(claim);
    return false;
  }

  /** A writer that claimed a successor and died leaves a claim no checkpoint follows: it is removed after a while. */
  private async breakStaleClaim(claim: ReturnType<AzureAuditSink["checkpointClient"]>): Promise<void> {
    try {
      const properties = await claim.getProperties();
      const age = Date.now() - (properties.lastModified?.getTime() ?? Date.now());
      if (age < STALE_CLAIM_MS) return;
      await claim.delete({ conditions: { ifMatch: properties.etag ?? "*" } });
    } catch {
      // Someone else broke or renewed it first; the caller looks again.
    }
  }

  private async appendBlock(block: Buffer): Promise<void> {
    const full =
      this.#current.sealed ||
      this.#current.blocks + 1 > this.#maxBlocks ||
      (this.#current.length > 0 && this.#current.length + block.length > this.#maxBytes);
    if (full) await this.roll();
    await this.segmentClient(this.#current.index).appendBlock(block, block.length, {
      conditions: { appendPosition: this.#current.length },
    });
    this.#current.length += block.length;
    this.#current.blocks += 1;
    this.#size += block.length;
  }

  /** Seals the current segment (only if nobody appended to it) and creates the next, create-only. */
  private async roll(): Promise<void> {
    const current = this.#current;
    if (!current.sealed) {
      await this.segmentClient(current.index).seal({ conditions: { appendPosition: current.length } });
    }
    const next = current.index + 1;
    try {
      await this.segmentClient(next).create({ conditions: { ifNoneMatch: "*" } });
    } catch (error) {
      const mapped = auditAzureError(error, `segment ${next} of ${this.description} exists`);
      // Someone else created the next segment first: we lost the race for the log.
      throw mapped.code === "ERR_ALREADY_EXISTS"
        ? new CustodyError("ERR_AUDIT_RACE", mapped.message)
        : mapped;
    }
    this.#current = { index: next, length: 0, blocks: 0, sealed: false };
  }

  async writeCheckpoint(treeSize: number, bytes: Buffer, signature: Buffer): Promise<void> {
    this.assertUsable();
    try {
      // Signature first: a body always has its signature; a crash leaves at most an orphan signature.
      for (const [extension, body] of [
        ["p7s", signature],
        ["json", bytes],
      ] as const) {
        await this.checkpointClient(treeSize, extension).upload(body, body.length, {
          conditions: { ifNoneMatch: "*" },
        });
      }
    } catch (error) {
      throw auditAzureError(error, `cannot store checkpoint ${treeSize} in ${this.description}`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  private assertUsable(): void {
    if (this.#closed)
      throw new CustodyError("ERR_INVALID_ARGUMENT", `audit log ${this.description} is closed`);
    if (this.#failure !== undefined) throw this.#failure;
  }

  private async setAsideIncompleteCheckpoints(): Promise<void> {
    const bodies = new Set(await this.listCheckpoints());
    const base = `${this.prefix}checkpoints/`;
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix: base })) {
        const match = /^(\d{12})\.p7s$/.exec(blob.name.slice(base.length));
        if (match?.[1] === undefined || bodies.has(Number(match[1]))) continue;
        const treeSize = Number(match[1]);
        const keptAt = `${this.prefix}torn/${new Date().toISOString()}-checkpoint-${checkpointBlobName(treeSize, "p7s")}`;
        const orphan = this.container.getBlockBlobClient(blob.name);
        const bytes = await orphan.downloadToBuffer();
        await this.container
          .getBlockBlobClient(keptAt)
          .upload(bytes, bytes.length, { conditions: { ifNoneMatch: "*" } });
        await orphan.delete();
        this.recoveries.push({ kind: "incomplete-checkpoint", treeSize, keptAt });
      }
    } catch (error) {
      throw auditAzureError(error, `cannot repair checkpoints of ${this.description}`);
    }
  }
}

/** Cuts a batch of whole lines into blocks of at most `max` bytes, each ending at a line end. */
function splitAtLines(lines: Buffer, max: number): Buffer[] {
  const blocks: Buffer[] = [];
  let start = 0;
  while (lines.length - start > max) {
    const cut = lines.lastIndexOf(0x0a, start + max - 1);
    if (cut < start)
      throw new CustodyError("ERR_SIZE_LIMIT", "an audit record is larger than an append block");
    blocks.push(lines.subarray(start, cut + 1));
    start = cut + 1;
  }
  if (start < lines.length) blocks.push(lines.subarray(start));
  return blocks;
}

/** Opens an audit log stored in an Azure container (see AzureAuditSink). */
export async function openAzureAuditLog(options: AzureAuditSinkOptions & AuditLogOptions): Promise<AuditLog> {
  return openAuditLog(await AzureAuditSink.open(options), options);
}
