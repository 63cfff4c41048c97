import {
  type Clock,
  CustodyError,
  isoTimestampSchema,
  silentLogger,
  systemClock,
  toCustodyError,
} from "@custody/core";
import type { AuditLog, AuditLogOptions, UnsealedTail } from "./audit-log.js";
import { type ChainScanner, iterateRecords } from "./chain.js";
import type { SignedCheckpoint } from "./checkpoint.js";
import { CheckpointWriter } from "./checkpoint-writer.js";
import {
  type ConsistencyProofBundle,
  createConsistencyBundle,
  createInclusionBundles,
  type InclusionProofBundle,
} from "./proofs.js";
import { type AuditEvent, type AuditRecord, makeRecord, parseEvent, recordLeafHash } from "./record.js";
import { type Replayed, replay } from "./replay.js";
import { type SealKey, toSealKey } from "./seal.js";
import type { AuditSink } from "./sink.js";
import { type AuditVerifyReport, type VerifyAuditOptions, verifyAuditLog } from "./verify.js";

/**
 * The record's time, checked with the record schema's own rule: the event was validated with zod,
 * seq, prev and hash are made here, so the clock's answer is the one part left to check.
 */
function recordTime(clock: Clock): string {
  const now = clock.now();
  const time = Number.isNaN(now.getTime()) ? "" : now.toISOString();
  if (!isoTimestampSchema.safeParse(time).success) {
    throw new CustodyError("ERR_AUDIT_RECORD_INVALID", `the clock gave a time a record cannot hold: ${time}`);
  }
  return time;
}

interface Pending {
  record: AuditRecord;
  line: string;
  resolve(record: AuditRecord): void;
  reject(error: unknown): void;
}

/** The log over one sink; made by `openAuditLog` (open.ts). */
export class LogImpl implements AuditLog {
  #nextSeq: number;
  #lastHash: string;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #failure: CustodyError | undefined;
  #closing = false;
  readonly #clock: Clock;
  readonly #checkpoints: CheckpointWriter;
  readonly #sealKey: SealKey | undefined;
  readonly #replayed: Replayed;
  private readonly scanner: ChainScanner;

  private constructor(
    private readonly sink: AuditSink,
    private readonly options: AuditLogOptions,
    replayed: Replayed,
    sealKey: SealKey | undefined,
  ) {
    this.#replayed = replayed;
    this.scanner = replayed.scanner;
    this.#sealKey = sealKey;
    this.#nextSeq = this.scanner.count;
    this.#lastHash = this.scanner.lastHash;
    this.#clock = options.clock ?? systemClock;
    this.#checkpoints = new CheckpointWriter(sink, this.scanner.accumulator, replayed.latest, {
      signer: options.signer,
      clock: this.#clock,
      logger: options.logger ?? silentLogger,
      every: options.checkpointEvery ?? 1000,
      intervalMs: options.checkpointIntervalMs ?? 60_000,
      witness: options.witness,
    });
    this.#checkpoints.witnessed = replayed.witnessed;
    this.#checkpoints.unsealedTailPending = replayed.unsealedTail !== undefined;
  }

  /** Replays what is stored (one pass) and opens the log over it; writes nothing. */
  static async replay(sink: AuditSink, options: AuditLogOptions): Promise<LogImpl> {
    const sealKey = options.sealKey === undefined ? undefined : toSealKey(options.sealKey);
    return new LogImpl(sink, options, await replay(sink, options, sealKey), sealKey);
  }

  get size(): number {
    return this.scanner.count;
  }

  get unsealedTail(): UnsealedTail | undefined {
    return this.#replayed.unsealedTail;
  }

  /**
   * The caller (a custodian, authorized and recorded) accepts the unsealed tail: from now on checkpoints
   * may sign it. Until then nothing signs it, not even close(), so a refused acceptance signs nothing.
   */
  acceptUnsealedTail(): void {
    this.#checkpoints.unsealedTailPending = false;
  }

  /** The sealed records a crashed writer left after its last checkpoint (signed by `openAuditLog`). */
  get sealedTail(): UnsealedTail | undefined {
    return this.#replayed.sealedTail;
  }

  /** Copies the sink's latest checkpoint to the witness when the witness lacks it (a crash, a new witness). */
  async catchUpWitness(): Promise<void> {
    await this.#checkpoints.catchUpWitness();
  }

  startTimer(): void {
    this.#checkpoints.startTimer();
  }

  async append(event: AuditEvent): Promise<AuditRecord> {
    this.assertWritable();
    const valid = parseEvent(event);
    const time = recordTime(this.#clock);
    // Sealed synchronously, so records take sequence numbers in call order.
    const { record, line } = makeRecord(
      {
        seq: this.#nextSeq,
        time,
        actor: valid.actor,
        action: valid.action,
        target: valid.target,
        outcome: valid.outcome,
        reason: valid.reason,
        details: valid.details ?? {},
        prev: this.#lastHash,
      },
      this.#sealKey,
    );
    this.#nextSeq += 1;
    this.#lastHash = record.hash;
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#pending.push({ record, line, resolve, reject });
      this.#flushing ??= this.flush();
    });
  }

  /** Group commit: whatever queued while the previous write was syncing goes out in one write. */
  private async flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        await this.writeBatch(batch);
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let text = "";
    for (const item of batch) text += `${item.line}\n`;
    try {
      await this.sink.append(Buffer.from(text, "utf8"));
    } catch (error) {
      // The stored tail is now unknown and the chain in memory is ahead of it: refuse everything until reopened.
      this.#failure = toCustodyError(error, "ERR_IO", `audit append to ${this.sink.description} failed`);
      for (const item of [...batch, ...this.#pending.splice(0)]) item.reject(this.#failure);
      return;
    }
    for (const item of batch) this.scanner.accumulator.append(recordLeafHash(item.record.hash));
    for (let i = 0; i < batch.length; i += 1) {
      const item = batch[i] as Pending;
      this.mirror(item.record);
      if (!this.observe(item.record)) {
        for (const rest of [...batch.slice(i), ...this.#pending.splice(0)]) rest.reject(this.#failure);
        return;
      }
      item.resolve(item.record);
    }
    this.#checkpoints.recordsDurable();
  }

  /**
   * Hands a durable record to `onRecord`. An observer that throws is out of step with the log (the
   * vault's state would miss a fact), so the log refuses everything until it is reopened and replayed.
   */
  private observe(record: AuditRecord): boolean {
    if (this.options.onRecord === undefined) return true;
    try {
      this.options.onRecord(record);
      return true;
    } catch (cause) {
      (this.options.logger ?? silentLogger).error(
        { err: cause, seq: record.seq },
        "audit record observer failed",
      );
      this.#failure = new CustodyError(
        "ERR_INTERNAL",
        `the audit record observer failed at record ${record.seq} (the record is durable); reopen the log`,
        { cause, details: { seq: record.seq, durable: true } },
      );
      return false;
    }
  }

  /** The mirror is a copy: its failure is logged and never fails or delays the append. */
  private mirror(record: AuditRecord): void {
    if (this.options.mirror === undefined) return;
    try {
      this.options.mirror.info({ audit: record }, "audit record");
    } catch (error) {
      (this.options.logger ?? silentLogger).error({ err: error }, "audit mirror failed");
    }
  }

  async checkpoint(): Promise<SignedCheckpoint> {
    this.assertUsable();
    return this.#checkpoints.checkpoint();
  }

  async latestCheckpoint(): Promise<SignedCheckpoint | undefined> {
    return this.#checkpoints.latest;
  }

  async *read(options: { since?: number; abortSignal?: AbortSignal } = {}): AsyncIterable<AuditRecord> {
    const since = options.since ?? 0;
    const { abortSignal } = options;
    const bytes = this.sink.readBytes({ end: this.sink.size, ...(abortSignal ? { abortSignal } : {}) });
    for await (const record of iterateRecords(bytes, this.sink.description)) {
      if (record.seq >= since) yield record;
    }
  }

  async proveInclusion(seq: number, checkpoint?: SignedCheckpoint): Promise<InclusionProofBundle> {
    return (await this.proveInclusions([seq], checkpoint))[0] as InclusionProofBundle;
  }

  async proveInclusions(
    seqs: readonly number[],
    checkpoint?: SignedCheckpoint,
  ): Promise<InclusionProofBundle[]> {
    let signed = checkpoint ?? this.#checkpoints.latest;
    const highest = Math.max(-1, ...seqs);
    if (checkpoint === undefined && (signed === undefined || signed.checkpoint.treeSize <= highest)) {
      signed = await this.checkpoint();
    }
    if (signed === undefined)
      throw new CustodyError("ERR_INVALID_ARGUMENT", "an empty audit log has no checkpoint");
    return createInclusionBundles(this.sink, seqs, signed);
  }

  async proveConsistency(from: SignedCheckpoint, to?: SignedCheckpoint): Promise<ConsistencyProofBundle> {
    return createConsistencyBundle(this.sink, from, to ?? (await this.checkpoint()));
  }

  verify(options: VerifyAuditOptions): Promise<AuditVerifyReport> {
    return verifyAuditLog(this.sink, options);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#checkpoints.stopTimer();
    await this.#flushing;
    try {
      const signable = this.#failure === undefined && !this.#checkpoints.unsealedTailPending;
      if (signable && this.scanner.count > 0) await this.#checkpoints.checkpoint();
      await this.#checkpoints.idle();
    } finally {
      await this.sink.close();
    }
  }

  private assertWritable(): void {
    this.assertUsable();
    if (this.#closing)
      throw new CustodyError("ERR_INVALID_ARGUMENT", `audit log ${this.sink.description} is closed`);
  }

  private assertUsable(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
