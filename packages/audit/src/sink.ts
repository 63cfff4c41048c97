/**
 * Where an audit log lives. The log's logic (chain, group commit, checkpoints, proofs, verification) is
 * written once over these two interfaces; the file sink and the Azure sink only move bytes.
 */

/** Read access, enough for verification and proofs. Needs no lock and never writes. */
export interface AuditSource {
  /** A name for messages (a path, a container URL). */
  readonly description: string;
  /**
   * The log's bytes in order: JSON lines, each ending "\n". `end` bounds the read (a writer passes its
   * durable length so a reader never sees a half-written batch).
   */
  readBytes(options?: { end?: number; abortSignal?: AbortSignal }): AsyncIterable<Uint8Array>;
  /** The tree sizes of the stored checkpoints, ascending. */
  listCheckpoints(): Promise<number[]>;
  /** One checkpoint's exact bytes and detached signature; ERR_NOT_FOUND when either is missing. */
  readCheckpoint(treeSize: number): Promise<{ bytes: Buffer; signature: Buffer }>;
}

/** What the sink found and repaired when it was opened, to be recorded in the log itself. */
export type SinkRecovery =
  /** Bytes after the last whole record (a write torn by a crash), cut from the log and kept at `keptAt`. */
  | { kind: "torn-tail"; tornBytes: number; keptAt: string; offset: number }
  /** A whole, self-consistent record that lacked only its newline: the newline was added, nothing cut. */
  | { kind: "completed-line"; offset: number; bytes: number }
  /** Half of a checkpoint (its signature or its body) left by a crash, moved aside to `keptAt`. */
  | { kind: "incomplete-checkpoint"; treeSize: number; keptAt: string };

/**
 * A sink several processes append to at once (Azure append blobs with `appendPosition` conditions): an
 * append lands only where this writer believes the log ends, else it fails with ERR_AUDIT_RACE and
 * stores nothing. The log then reads the other writers' records (`refreshTail`, `readRange`), checks
 * and replays them, and its callers decide again on the new state and retry.
 */
export interface SharedAuditSink extends AuditSink {
  readonly shared: true;
  /** Learns where the stored log ends now, other writers' appends included (moves `size`). */
  refreshTail(): Promise<void>;
  /** The bytes from `start` (a record boundary this writer knows) to `end`. */
  readRange(start: number, end: number): AsyncIterable<Uint8Array>;
  /**
   * Claims, create-only, the right to write the checkpoint that follows the one of `after` records, so
   * two writers never sign two successors of one checkpoint (a fork). False when another writer holds it.
   */
  claimCheckpoint(after: number, treeSize: number): Promise<boolean>;
}

export function isSharedSink(sink: AuditSink): sink is SharedAuditSink {
  return (sink as Partial<SharedAuditSink>).shared === true;
}

/** Write access for exactly one writer (the sink enforces that; see each sink's README section). */
export interface AuditSink extends AuditSource {
  /** Repairs found while opening; the log appends a record for each. */
  readonly recoveries: readonly SinkRecovery[];
  /** Bytes of whole records stored, i.e. where the next append goes. */
  readonly size: number;
  /**
   * Stores whole lines after everything stored so far; resolves once they are durable. A failure leaves
   * the sink unusable (the stored tail is unknown until it is reopened).
   */
  append(lines: Buffer): Promise<void>;
  /**
   * Offered by a sink that writes in the calling thread (the file sink opened with `blockingWrites`):
   * `append`'s work, returning once the lines are durable and throwing what `append` would reject with.
   * The log then writes without a promise per write.
   */
  appendSync?(lines: Buffer): void;
  /**
   * When the log uses `appendSync` (default `"every-batch"`): `"lone-record"` only for a batch of one
   * record with nothing else queued, while the sink's writes are fast; through `append` otherwise.
   */
  readonly appendSyncFor?: "every-batch" | "lone-record";
  /** The bytes from `start` to `end` (default: the end of what is stored); offered by the file sink. */
  readBytesFrom?(start: number, end?: number): AsyncIterable<Uint8Array>;
  /** Stores a checkpoint create-only (ERR_ALREADY_EXISTS when one of that size exists), durably. */
  writeCheckpoint(treeSize: number, bytes: Buffer, signature: Buffer): Promise<void>;
  /** Releases the writer's claim (lock, lease). */
  close(): Promise<void>;
}
