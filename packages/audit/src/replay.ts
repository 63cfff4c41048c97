import { CustodyError } from "@custody/core";
import type { AuditLogOptions, UnsealedTail } from "./audit-log.js";
import { type AuditProblem, ChainScanner, damagedError, scanRecords } from "./chain.js";
import { parseCheckpointBytes, type SignedCheckpoint } from "./checkpoint.js";
import { CheckpointWriter } from "./checkpoint-writer.js";
import type { AuditRecord } from "./record.js";
import { hasValidSeal, type SealKey } from "./seal.js";
import type { AuditSink } from "./sink.js";
import type { CheckpointWitness } from "./witness.js";

/** What one pass over a stored log found. */
export interface Replayed {
  scanner: ChainScanner;
  /** The newest checkpoint in the sink. */
  latest: SignedCheckpoint | undefined;
  /** The witness's newest checkpoint (matched by the records). */
  witnessed: SignedCheckpoint | undefined;
  /** Records after `latest`, every one sealed by this vault: a writer crashed before its checkpoint. */
  sealedTail: UnsealedTail | undefined;
  /** Records after `latest` from the first without a valid seal (only with `acceptUnsealedTail`). */
  unsealedTail: UnsealedTail | undefined;
}

/**
 * Reads the log once: checks every record and link, the sink's and the witness's latest checkpoints
 * against the records, the seals after the latest checkpoint, and hands each record to `onRecord`.
 * Throws on anything that makes the log unsafe to extend, before anything is written.
 */
export async function replay(
  sink: AuditSink,
  options: AuditLogOptions,
  sealKey: SealKey | undefined,
): Promise<Replayed> {
  const latest = await CheckpointWriter.loadLatest(sink);
  const witnessed = await loadWitnessed(options.witness);
  const scanner = new ChainScanner();
  const covered = latest?.checkpoint.treeSize ?? 0;
  let tailFirst: string | undefined;
  let unsealed: AuditRecord | undefined;
  const visit = (record: AuditRecord): AuditProblem | undefined => {
    options.onRecord?.(record);
    if (record.seq === covered) tailFirst = record.hash;
    if (
      sealKey !== undefined &&
      unsealed === undefined &&
      record.seq >= covered &&
      !hasValidSeal(sealKey, record)
    ) {
      unsealed = record;
    }
    const count = scanner.count;
    if (latest !== undefined && count === covered) {
      const problem = CheckpointWriter.compare(latest, scanner);
      if (problem !== undefined) return problem;
    }
    return witnessed?.checkpoint.treeSize === count ? witnessProblem(witnessed, scanner) : undefined;
  };
  const problem = await scanRecords(sink.readBytes(), scanner, visit);
  if (problem !== undefined) throw damagedError(problem, sink.description);
  assertCovers(sink, scanner, latest, "checkpoint");
  assertCovers(sink, scanner, witnessed, "the witness's checkpoint");
  const tail = (first: AuditRecord | undefined): UnsealedTail => ({
    fromSeq: first?.seq ?? covered,
    count: scanner.count - (first?.seq ?? covered),
    firstHash: first?.hash ?? (tailFirst as string),
    lastHash: scanner.lastHash,
  });
  if (unsealed !== undefined && options.acceptUnsealedTail !== true) {
    throw unsealedError(sink, tail(unsealed));
  }
  const sealedTail = sealKey !== undefined && unsealed === undefined && scanner.count > covered;
  return {
    scanner,
    latest,
    witnessed,
    sealedTail: sealedTail ? tail(undefined) : undefined,
    unsealedTail: unsealed === undefined ? undefined : tail(unsealed),
  };
}

async function loadWitnessed(witness: CheckpointWitness | undefined): Promise<SignedCheckpoint | undefined> {
  const stored = await witness?.readLatest();
  if (witness === undefined || stored === undefined) return undefined;
  try {
    return parseCheckpointBytes(stored.bytes, stored.signature);
  } catch (cause) {
    throw new CustodyError(
      "ERR_AUDIT_CHECKPOINT_INVALID",
      `${witness.description}: its latest checkpoint is unreadable`,
      {
        cause,
      },
    );
  }
}

function witnessProblem(witnessed: SignedCheckpoint, scanner: ChainScanner): AuditProblem | undefined {
  if (scanner.accumulator.root().toString("hex") === witnessed.checkpoint.rootHash) return undefined;
  return {
    code: "ERR_AUDIT_FORK",
    kind: "fork",
    message: `the records differ from the witness's checkpoint ${witnessed.checkpoint.treeSize} (another history)`,
    line: scanner.lines,
    treeSize: witnessed.checkpoint.treeSize,
  };
}

/** A log with fewer records than a checkpoint covers was cut back (with its checkpoints, if the witness's). */
function assertCovers(
  sink: AuditSink,
  scanner: ChainScanner,
  signed: SignedCheckpoint | undefined,
  what: string,
): void {
  if (signed === undefined || signed.checkpoint.treeSize <= scanner.count) return;
  throw new CustodyError(
    "ERR_AUDIT_TRUNCATED",
    `${sink.description} has ${scanner.count} records but ${what} ${signed.checkpoint.treeSize} covers more`,
    { details: { records: scanner.count, treeSize: signed.checkpoint.treeSize } },
  );
}

function unsealedError(sink: AuditSink, tail: UnsealedTail): CustodyError {
  return new CustodyError(
    "ERR_AUDIT_UNSEALED_TAIL",
    `${sink.description}: ${tail.count} record(s) from ${tail.fromSeq} after the latest checkpoint were not ` +
      "sealed by this vault (written by hand or by another program); a custodian must look at them",
    { details: { ...tail } },
  );
}
