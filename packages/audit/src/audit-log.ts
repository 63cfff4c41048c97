import type { Clock, Logger } from "@custody/core";
import type { Signer } from "@custody/manifest";
import type { SignedCheckpoint } from "./checkpoint.js";
import type { ConsistencyProofBundle, InclusionProofBundle } from "./proofs.js";
import type { AuditEvent, AuditRecord } from "./record.js";
import type { AuditVerifyReport, VerifyAuditOptions } from "./verify.js";
import type { CheckpointWitness } from "./witness.js";

export interface AuditLogOptions {
  /** Signs checkpoints (the vault's signer). */
  signer: Signer;
  clock?: Clock;
  /** Operational messages (recoveries, failed background checkpoints). Silent by default. */
  logger?: Logger;
  /** Receives every record once it is durable (e.g. pino to a SIEM). A copy, never the record of truth. */
  mirror?: Logger;
  /** A checkpoint after this many new records (default 1000). */
  checkpointEvery?: number;
  /** A checkpoint this often when there are new records (default 60 s; 0 turns the timer off). */
  checkpointIntervalMs?: number;
  /**
   * A secret (at least 32 random bytes) kept beside the signer key. Every line written carries
   * `seal` = HMAC-SHA256(sealKey, record hash), and at open every record after the latest checkpoint
   * must carry a valid seal: a tail the writer sealed is signed at once (a crash before its checkpoint),
   * any other tail is refused with ERR_AUDIT_UNSEALED_TAIL. Without it, records are unsealed and not checked.
   */
  sealKey?: Uint8Array;
  /**
   * Opens a log whose tail is not sealed (the custodian decided to accept it): `unsealedTail` describes
   * it, and the caller records the acceptance; the next checkpoint covers the tail.
   */
  acceptUnsealedTail?: boolean;
  /**
   * Receives a copy of every checkpoint the log signs; a failed copy fails that checkpoint. At open the
   * log must contain the witness's latest checkpoint (ERR_AUDIT_TRUNCATED or ERR_AUDIT_FORK otherwise).
   */
  witness?: CheckpointWitness;
  /**
   * Called with every record in order: each stored record during the replay at open, then each appended
   * record once it is durable, before its append resolves. It must not throw (see the README).
   */
  onRecord?: (record: AuditRecord) => void;
  /**
   * Reads the stored log from this point on instead of from its start: a point an earlier writer's
   * `resumePoint()` handed out, kept by the caller where nobody without its key could change it (the
   * vault seals it). The records before it are not read again, so an edit to them is found by `verify`,
   * not here. Used only where it can be: a log with one writer, read from that offset, and a signed
   * checkpoint (and the witness's, if any) at or after the point; otherwise the whole log is read.
   */
  resumeFrom?: AuditResumePoint;
  /** Called, before the first record is read, when the open goes on from `resumeFrom`. */
  onResume?: (point: AuditResumePoint) => void;
}

/** The chain's state after `treeSize` records, which end `byteOffset` bytes into the stored log. */
export interface AuditResumePoint {
  treeSize: number;
  byteOffset: number;
  /** The hash of record `treeSize - 1`. */
  lastHash: string;
  /** The Merkle accumulator's perfect subtree roots in hex, largest first. */
  subtreeRoots: string[];
}

/** Records after the latest checkpoint without a valid seal, found at open with `acceptUnsealedTail`. */
export interface UnsealedTail {
  /** The first record without a valid seal; every record from it to `fromSeq + count - 1` is unexplained. */
  fromSeq: number;
  count: number;
  firstHash: string;
  lastHash: string;
}

export interface AuditLog {
  /** Appends one record; resolves once it is durable. Concurrent appends share one write and one sync. */
  append(event: AuditEvent): Promise<AuditRecord>;
  /**
   * Reads what other writers of a shared sink appended since (a no-op for a sink with one writer). A
   * caller that decides on the state the log states calls it first; an append that loses a race to
   * another writer fails with ERR_AUDIT_RACE, nothing stored, and the caller decides again after this.
   */
  catchUp(): Promise<void>;
  /**
   * Signs and stores a checkpoint over every durable record (returns the latest when nothing is new).
   * `atPoint`, for a log with one writer: called synchronously once the checkpoint's tree size is fixed,
   * with the resume point at that size (the records any `onRecord` observer has seen, no more), so a
   * caller can take its own state there while appends go on; the point is usable once the checkpoint
   * is stored. It must not throw.
   */
  checkpoint(options?: { atPoint?: (point: AuditResumePoint) => void }): Promise<SignedCheckpoint>;
  latestCheckpoint(): Promise<SignedCheckpoint | undefined>;
  read(options?: { since?: number; abortSignal?: AbortSignal }): AsyncIterable<AuditRecord>;
  /** Inclusion proof for record `seq` against `checkpoint` (default: the latest, made now if needed). */
  proveInclusion(seq: number, checkpoint?: SignedCheckpoint): Promise<InclusionProofBundle>;
  /** Inclusion proofs for many records in one read of the log (same checkpoint rules as proveInclusion). */
  proveInclusions(seqs: readonly number[], checkpoint?: SignedCheckpoint): Promise<InclusionProofBundle[]>;
  /** Consistency proof from an older checkpoint to `to` (default: the latest, made now if needed). */
  proveConsistency(from: SignedCheckpoint, to?: SignedCheckpoint): Promise<ConsistencyProofBundle>;
  /** Verifies the durable part of the log (safe while appends run). */
  verify(options: VerifyAuditOptions): Promise<AuditVerifyReport>;
  /** Durable records. */
  readonly size: number;
  /** The unsealed tail accepted at open (`acceptUnsealedTail`), or undefined when there was none. */
  readonly unsealedTail: UnsealedTail | undefined;
  /** Lets checkpoints sign the unsealed tail (after the caller recorded who accepted it, and why). */
  acceptUnsealedTail(): void;
  /**
   * Where a later open may go on from (`resumeFrom`), when every durable record is covered by the latest
   * checkpoint; undefined otherwise, and always for a log other writers share.
   */
  resumePoint(): AuditResumePoint | undefined;
  /** Waits for pending appends, writes a final checkpoint when there are new records, releases the sink. */
  close(): Promise<void>;
}
