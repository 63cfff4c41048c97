import {
  type Clock,
  CustodyError,
  isCustodyError,
  isoTimestampSchema,
  silentLogger,
  systemClock,
  toCustodyError,
} from "@custody/core";
import type { AuditLog, AuditLogOptions, AuditResumePoint, UnsealedTail } from "./audit-log.js";
import { type ChainScanner, iterateRecords } from "./chain.js";
import type { SignedCheckpoint } from "./checkpoint.js";
import { CheckpointWriter } from "./checkpoint-writer.js";
import { checkEvent } from "./event.js";
import {
  type ConsistencyProofBundle,
  createConsistencyBundle,
  createInclusionBundles,
  type InclusionProofBundle,
} from "./proofs.js";
import { type AuditEvent, type AuditRecord, makeRecord, recordLeafHash } from "./record.js";
import { type Replayed, replay } from "./replay.js";
import { type SealKey, toSealKey } from "./seal.js";
import { raceLost, readOtherWriters } from "./shared-tail.js";
import { type AuditSink, isSharedSink, type SharedAuditSink } from "./sink.js";
import type { AuditVerifyReport, VerifyAuditOptions } from "./verify.js";
import { verifyAuditLog } from "./verify-parallel.js";

/**
 * The record's time, checked with the record schema's own rule: the event was validated, seq, prev and
 * hash are made here, so the clock's answer is the one part left to check. The last time that passed is
 * remembered: sequential appends take tens of microseconds, so most share their millisecond with the
 * one before and need no second check.
 */
function recordTime(clock: Clock): string {
  const now = clock.now();
  const time = Number.isNaN(now.getTime()) ? "" : now.toISOString();
  if (time === lastValidTime) return time;
  if (!isoTimestampSchema.safeParse(time).success) {
    throw new CustodyError("ERR_AUDIT_RECORD_INVALID", `the clock gave a time a record cannot hold: ${time}`);
  }
  lastValidTime = time;
  return time;
}
let lastValidTime = "";

/** The batch's lines, each ending "\n", as one buffer: one write. */
function batchBytes(batch: readonly Pending[]): Buffer {
  let text = "";
  for (const item of batch) text += `${item.line}\n`;
  return Buffer.from(text, "utf8");
}

/** The Azure service's largest append block: a shared batch is one block, stored whole or not at all. */
const SHARED_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * A lone record is written in the calling thread only while writes take less than this: the event loop
 * of a server then usually waits about this long for it; a disk that turns slow holds it for one sync,
 * then records go through the thread pool until a write there is fast again.
 */
const LONE_WRITE_LIMIT_MS = 1;

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
  /** How long the sink's last write took, the thread pool's hand-offs included (see `flush`). */
  #lastWriteMs = 0;
  #failure: CustodyError | undefined;
  #closing = false;
  /** Set when other processes append to the same sink (see SharedAuditSink). */
  readonly #shared: SharedAuditSink | undefined;
  /** Writes and catch-ups take turns: a catch-up never reads this writer's own batch as someone else's. */
  #turn: Promise<unknown> = Promise.resolve();
  #queuedCatchUp: Promise<void> | undefined;
  readonly #clock: Clock;
  readonly #checkpoints: CheckpointWriter;
  readonly #sealKey: SealKey | undefined;
  readonly #replayed: Replayed;
  private readonly scanner: ChainScanner;
  /** Bytes of the stored log the scanner has taken in (where record `scanner.count` starts). */
  #durableBytes: number;

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
    this.#durableBytes = sink.size;
    this.#clock = options.clock ?? systemClock;
    this.#shared = isSharedSink(sink) ? sink : undefined;
    this.#checkpoints = new CheckpointWriter(sink, this.scanner.accumulator, replayed.latest, {
      signer: options.signer,
      clock: this.#clock,
      logger: options.logger ?? silentLogger,
      every: options.checkpointEvery ?? 1000,
      intervalMs: options.checkpointIntervalMs ?? 60_000,
      witness: options.witness,
      shared: this.#shared,
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

  // Not an async function: its promise would wrap the one below and add two microtask turns per append.
  append(event: AuditEvent): Promise<AuditRecord> {
    let made: { record: AuditRecord; line: string };
    try {
      made = this.sequence(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#pending.push({ ...made, resolve, reject });
      this.#flushing ??= this.flush();
    });
  }

  /** Validates, then seals synchronously, so records take sequence numbers in call order. */
  private sequence(event: AuditEvent): { record: AuditRecord; line: string } {
    this.assertWritable();
    const { event: valid, detailsText } = checkEvent(event);
    const time = recordTime(this.#clock);
    const made = makeRecord(
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
      detailsText,
    );
    this.#nextSeq += 1;
    this.#lastHash = made.record.hash;
    return made;
  }

  /** Group commit: whatever queued while the previous write was syncing goes out in one write. */
  private async flush(): Promise<void> {
    try {
      const inCallingThread =
        this.#shared !== undefined || this.sink.appendSync === undefined
          ? "never"
          : (this.sink.appendSyncFor ?? "every-batch");
      if (inCallingThread === "every-batch") {
        // One microtask turn, so appends made in the same turn still share a write.
        await undefined;
        while (this.#pending.length > 0) this.writeBatchNow(this.#pending.splice(0));
        return;
      }
      while (this.#pending.length > 0) {
        if (inCallingThread === "lone-record" && this.#pending.length === 1) {
          // A server's sink: after one turn of the event loop, in which requests already received append
          // theirs, a record still alone while the last write was fast is written in the calling thread
          // (the loop waits about that long; the thread pool's two hand-offs are saved); otherwise it goes
          // through the pool, with the others in one write.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.#pending.length === 1 && this.#lastWriteMs < LONE_WRITE_LIMIT_MS) {
            this.writeBatchNow(this.#pending.splice(0));
            continue;
          }
        }
        const batch = this.takeBatch();
        await this.inTurn(() => this.writeBatch(batch));
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Everything queued; for a shared sink at most one append block, so a batch lands whole or not at all. */
  private takeBatch(): Pending[] {
    if (this.#shared === undefined) return this.#pending.splice(0);
    let bytes = 0;
    let count = 0;
    for (const item of this.#pending) {
      bytes += Buffer.byteLength(item.line) + 1;
      if (count > 0 && bytes > SHARED_BATCH_BYTES) break;
      count += 1;
    }
    return this.#pending.splice(0, count);
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const first = batch[0]?.record;
    if (
      this.#shared !== undefined &&
      (first?.seq !== this.scanner.count || first.prev !== this.scanner.lastHash)
    ) {
      // Sequenced before a catch-up moved the tail: writing it would break the chain.
      for (const item of [...batch, ...this.#pending.splice(0)]) item.reject(raceLost(this.#shared));
      this.rewindToDurable();
      return;
    }
    let leaves: Buffer[] = [];
    const bytes = batchBytes(batch);
    try {
      const started = performance.now();
      const stored = this.sink.append(bytes);
      // Hashed while the write is in flight: for a sequential caller this work is off its path.
      leaves = batch.map((item) => recordLeafHash(item.record.hash));
      await stored;
      this.#lastWriteMs = performance.now() - started;
    } catch (error) {
      if (this.#shared !== undefined && isCustodyError(error, "ERR_AUDIT_RACE")) {
        // Nothing of this batch was stored; its records and those after them are decided again by their callers.
        for (const item of [...batch, ...this.#pending.splice(0)]) item.reject(raceLost(this.#shared));
        this.rewindToDurable();
        return;
      }
      this.writeFailed(error, batch);
      return;
    }
    this.batchDurable(batch, leaves, bytes.length);
  }

  /** A batch through a sink that writes in the calling thread (`appendSync`): no promise per write. */
  private writeBatchNow(batch: Pending[]): void {
    const bytes = batchBytes(batch);
    try {
      const started = performance.now();
      this.sink.appendSync?.(bytes);
      this.#lastWriteMs = performance.now() - started;
    } catch (error) {
      this.writeFailed(error, batch);
      return;
    }
    this.batchDurable(
      batch,
      batch.map((item) => recordLeafHash(item.record.hash)),
      bytes.length,
    );
  }

  /** The stored tail is now unknown and the chain in memory is ahead of it: refuse everything until reopened. */
  private writeFailed(error: unknown, batch: Pending[]): void {
    this.#failure = toCustodyError(error, "ERR_IO", `audit append to ${this.sink.description} failed`);
    for (const item of [...batch, ...this.#pending.splice(0)]) item.reject(this.#failure);
  }

  /** The batch is on stable storage: the tree, the observer and the mirror learn of it, then its callers. */
  private batchDurable(batch: Pending[], leaves: Buffer[], bytes: number): void {
    for (const leaf of leaves) this.scanner.accumulator.append(leaf);
    this.#durableBytes += bytes;
    this.scanner.lastHash = batch.at(-1)?.record.hash ?? this.scanner.lastHash;
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

  private rewindToDurable(): void {
    this.#nextSeq = this.scanner.count;
    this.#lastHash = this.scanner.lastHash;
  }

  /**
   * For a shared sink: reads and replays what other writers appended since (one read shared by the
   * callers that wait for it). Records queued meanwhile were sequenced on the old tail: they fail with
   * ERR_AUDIT_RACE and their callers decide again. A no-op for a sink with one writer.
   */
  catchUp(): Promise<void> {
    const shared = this.#shared;
    if (shared === undefined) return Promise.resolve();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#queuedCatchUp ??= this.inTurn(async () => {
      this.#queuedCatchUp = undefined;
      await this.readOthers(shared);
    });
    return this.#queuedCatchUp;
  }

  private async readOthers(shared: SharedAuditSink): Promise<void> {
    try {
      const read = await readOtherWriters(shared, this.scanner, this.#sealKey, (record) => {
        this.options.onRecord?.(record);
        this.mirror(record);
      });
      if (read === 0) return;
    } catch (error) {
      this.#failure = toCustodyError(error, "ERR_IO", `cannot follow ${shared.description}`);
      for (const item of this.#pending.splice(0)) item.reject(this.#failure);
      throw this.#failure;
    }
    for (const item of this.#pending.splice(0)) item.reject(raceLost(shared));
    this.rewindToDurable();
    this.#checkpoints.recordsDurable();
  }

  async checkpoint(options: { atPoint?: (point: AuditResumePoint) => void } = {}): Promise<SignedCheckpoint> {
    this.assertUsable();
    await this.catchUp();
    const { atPoint } = options;
    // the tree size is fixed between durable batches: every record up to it was handed to `onRecord`
    return this.#checkpoints.checkpoint(
      atPoint === undefined || this.#shared !== undefined ? undefined : () => atPoint(this.#pointNow()),
    );
  }

  async latestCheckpoint(): Promise<SignedCheckpoint | undefined> {
    return this.#checkpoints.latest;
  }

  resumePoint(): AuditResumePoint | undefined {
    const signed = this.#checkpoints.latest?.checkpoint.treeSize;
    if (this.#shared !== undefined || this.#failure !== undefined || signed !== this.scanner.count)
      return undefined;
    return this.#pointNow();
  }

  #pointNow(): AuditResumePoint {
    const { size, subtreeRoots } = this.scanner.accumulator.state();
    return {
      treeSize: size,
      byteOffset: this.#durableBytes,
      lastHash: this.scanner.lastHash,
      subtreeRoots: subtreeRoots.map((root) => root.toString("hex")),
    };
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
