import type { Clock, Logger } from "@custody/core";
import type { Signer } from "@custody/manifest";
import type { SignedCheckpoint } from "./checkpoint.js";
import type { ConsistencyProofBundle, InclusionProofBundle } from "./proofs.js";
import type { AuditEvent, AuditRecord } from "./record.js";
import type { AuditVerifyReport, VerifyAuditOptions } from "./verify.js";

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
}

export interface AuditLog {
  /** Appends one record; resolves once it is durable. Concurrent appends share one write and one sync. */
  append(event: AuditEvent): Promise<AuditRecord>;
  /** Signs and stores a checkpoint over every durable record (returns the latest when nothing is new). */
  checkpoint(): Promise<SignedCheckpoint>;
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
  /** Waits for pending appends, writes a final checkpoint when there are new records, releases the sink. */
  close(): Promise<void>;
}
