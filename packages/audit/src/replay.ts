import { CustodyError } from "@custody/core";
import type { AuditLogOptions, AuditResumePoint, UnsealedTail } from "./audit-log.js";
import { type AuditProblem, ChainScanner, damagedError, scanRecords } from "./chain.js";
import { parseCheckpointBytes, type SignedCheckpoint } from "./checkpoint.js";
import { CheckpointWriter } from "./checkpoint-writer.js";
import { MAX_LINE, parseRecordLine } from "./line-check.js";
import type { AuditRecord } from "./record.js";
import { hasValidSeal, type SealKey } from "./seal.js";
import { type AuditSink, isSharedSink } from "./sink.js";
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
  const resume = await usableResumePoint(sink, options.resumeFrom, latest, witnessed);
  const scanner = resume === undefined ? new ChainScanner() : ChainScanner.resumed(resume.point);
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
    return signedProblem();
  };
  // The signed checkpoints whose size the scanner has reached match its tree.
  const signedProblem = (): AuditProblem | undefined => {
    const count = scanner.count;
    if (latest !== undefined && count === covered) {
      const problem = CheckpointWriter.compare(latest, scanner);
      if (problem !== undefined) return problem;
    }
    return witnessed?.checkpoint.treeSize === count ? witnessProblem(witnessed, scanner) : undefined;
  };
  if (resume !== undefined) options.onResume?.(resume.point);
  const problem =
    (resume === undefined ? undefined : signedProblem()) ??
    (await scanRecords(resume?.bytes ?? sink.readBytes(), scanner, visit));
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

/**
 * The caller's resume point and the bytes after it, when the open may go on from there: one writer, a
 * sink that reads from an offset, and signed checkpoints (the sink's latest, the witness's) at or after
 * it, so every record read is still checked against both.
 */
async function usableResumePoint(
  sink: AuditSink,
  point: AuditResumePoint | undefined,
  latest: SignedCheckpoint | undefined,
  witnessed: SignedCheckpoint | undefined,
): Promise<{ point: AuditResumePoint; bytes: AsyncIterable<Uint8Array> } | undefined> {
  if (point === undefined || isSharedSink(sink) || sink.readBytesFrom === undefined) return undefined;
  const usable =
    latest !== undefined &&
    Number.isSafeInteger(point.treeSize) &&
    point.treeSize > 0 &&
    point.treeSize <= latest.checkpoint.treeSize &&
    (witnessed === undefined || witnessed.checkpoint.treeSize >= point.treeSize) &&
    Number.isSafeInteger(point.byteOffset) &&
    point.byteOffset > 0 &&
    point.byteOffset <= sink.size &&
    /^[0-9a-f]{64}$/.test(point.lastHash) &&
    point.subtreeRoots.length === popCount(point.treeSize) &&
    point.subtreeRoots.every((root) => /^[0-9a-f]{64}$/.test(root));
  if (!usable || !(await endsWithRecord(sink, point))) return undefined;
  return { point, bytes: sink.readBytesFrom(point.byteOffset) };
}

/**
 * Whether the stored line that ends at the point is a sound record whose hash is the point's: a log
 * replaced or rewritten up to there (another history) is then read whole, and its problems found.
 */
async function endsWithRecord(sink: AuditSink, point: AuditResumePoint): Promise<boolean> {
  const start = Math.max(0, point.byteOffset - MAX_LINE - 1);
  const chunks: Buffer[] = [];
  for await (const chunk of sink.readBytesFrom?.(start, point.byteOffset) ?? [])
    chunks.push(Buffer.from(chunk));
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== point.byteOffset - start || bytes.at(-1) !== 0x0a) return false;
  const from = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  if (from === 0 && start > 0) return false;
  const record = parseRecordLine(bytes.subarray(from, bytes.length - 1).toString("utf8"));
  return !("problem" in record) && record.hash === point.lastHash && record.seq === point.treeSize - 1;
}

function popCount(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) count += rest % 2;
  return count;
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
