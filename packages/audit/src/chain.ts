import { CustodyError, type ErrorCode } from "@custody/core";
import { MerkleAccumulator } from "@custody/hash";
import type { AuditResumePoint } from "./audit-log.js";
import { linkProblem, parseRecordLine } from "./line-check.js";
import { splitLines } from "./lines.js";
import { type AuditRecord, GENESIS_PREV, recordLeafHash } from "./record.js";

/** What went wrong, as precisely as the bytes allow telling. */
export type AuditProblemKind =
  | "malformed" // not JSON, not a record, or not UTF-8
  | "non-canonical" // a record, but not stored in its canonical form (edited by hand)
  | "torn" // bytes after the last newline
  | "modified" // content does not match the record's own hash
  | "duplicated" // the previous record again
  | "out-of-order" // a sequence number that was already seen (reordered or duplicated records)
  | "missing" // a sequence number skipped (deleted records, or a later one moved up)
  | "inserted" // right sequence number, but it does not link to the previous record
  | "rewritten" // a consistent chain that does not match a signed checkpoint (re-hashed edits)
  | "truncated" // fewer records than a signed checkpoint covers
  | "checkpoint-invalid" // unreadable, malformed, or a bad or untrusted signature
  | "checkpoint-chain" // a checkpoint that does not link to an earlier one (missing or foreign)
  | "fork"; // two signed checkpoints that cannot both describe this log

export interface AuditProblem {
  code: ErrorCode;
  kind: AuditProblemKind;
  message: string;
  /** 1-based line of the log file where it shows. */
  line?: number;
  /** The sequence number expected at that line. */
  seq?: number;
  /** The checkpoint concerned. */
  treeSize?: number;
  /** For a signature problem, the signature check's own code (e.g. ERR_UNTRUSTED_SIGNER). */
  signatureCode?: string;
}

/**
 * Walks the records in order and checks each against the previous one, keeping only the last hash and
 * an O(log n) Merkle accumulator: memory stays flat whatever the log's size.
 */
export class ChainScanner {
  readonly accumulator: MerkleAccumulator;
  lastHash = GENESIS_PREV;
  lines = 0;

  constructor(accumulator = new MerkleAccumulator()) {
    this.accumulator = accumulator;
  }

  /** A scanner that goes on from a resume point (its records are not read again). */
  static resumed(point: AuditResumePoint): ChainScanner {
    const scanner = new ChainScanner(
      MerkleAccumulator.fromState({
        size: point.treeSize,
        subtreeRoots: point.subtreeRoots.map((root) => Buffer.from(root, "hex")),
      }),
    );
    scanner.lastHash = point.lastHash;
    scanner.lines = point.treeSize; // one line per record in a sound log
    return scanner;
  }

  get count(): number {
    return this.accumulator.size;
  }

  /** Checks one line; returns its record, or the problem at this line. */
  push(line: string, validUtf8 = true): AuditRecord | AuditProblem {
    this.lines += 1;
    // Runs once per record: no allocation beyond the record itself unless there is a problem.
    if (!validUtf8)
      return this.problem("ERR_AUDIT_RECORD_INVALID", { kind: "malformed", message: "not UTF-8" });
    const parsed = parseRecordLine(line);
    if ("problem" in parsed) {
      const code = parsed.problem.kind === "modified" ? "ERR_AUDIT_CHAIN_BROKEN" : "ERR_AUDIT_RECORD_INVALID";
      return this.problem(code, parsed.problem);
    }
    const link = linkProblem(parsed, this.count, this.lastHash);
    if (link !== undefined) return this.problem("ERR_AUDIT_CHAIN_BROKEN", link);
    this.accumulator.append(recordLeafHash(parsed.hash));
    this.lastHash = parsed.hash;
    return parsed;
  }

  private problem(code: ErrorCode, what: Pick<AuditProblem, "kind" | "message">): AuditProblem {
    return { code, kind: what.kind, message: what.message, line: this.lines, seq: this.count };
  }
}

export function isProblem(value: AuditRecord | AuditProblem): value is AuditProblem {
  return "kind" in value;
}

/** The problem for bytes after the last newline. */
export function tornProblem(scanner: { lines: number; count: number }, bytes: number): AuditProblem {
  return {
    code: "ERR_AUDIT_RECORD_INVALID",
    kind: "torn",
    message: `${bytes} bytes after the last whole record (a torn write or a cut log)`,
    line: scanner.lines + 1,
    seq: scanner.count,
  };
}

export function tooLongProblem(scanner: { lines: number; count: number }, bytes: number): AuditProblem {
  return {
    code: "ERR_AUDIT_RECORD_INVALID",
    kind: "malformed",
    message: `a line of more than ${bytes} bytes: no record is that long`,
    line: scanner.lines + 1,
    seq: scanner.count,
  };
}

/** Streams a log's bytes through a scanner; `visit` sees every valid record and may stop the walk. */
export async function scanRecords(
  bytes: AsyncIterable<Uint8Array>,
  scanner: ChainScanner,
  visit: (record: AuditRecord) => AuditProblem | undefined | "stop",
): Promise<AuditProblem | undefined> {
  for await (const event of splitLines(bytes)) {
    if (event.kind === "too-long") return tooLongProblem(scanner, event.bytes);
    if (event.kind === "torn") return tornProblem(scanner, event.bytes.length);
    let bad = 0;
    for (let i = 0; i < event.lines.length; i += 1) {
      const valid = event.invalidUtf8[bad] !== i;
      if (!valid) bad += 1;
      const result = scanner.push(event.lines[i] as string, valid);
      if (isProblem(result)) return result;
      const verdict = visit(result);
      if (verdict === "stop") return undefined;
      if (verdict !== undefined) return verdict;
    }
  }
  return undefined;
}

/** A problem as a thrown error, for callers that need a sound log rather than a report. */
export function damagedError(problem: AuditProblem, where: string): CustodyError {
  return new CustodyError(problem.code, `${where} is damaged at line ${problem.line}: ${problem.message}`, {
    details: { ...problem },
  });
}

/** Streams checked records; throws at the first problem. */
export async function* iterateRecords(
  bytes: AsyncIterable<Uint8Array>,
  where: string,
): AsyncGenerator<AuditRecord> {
  const scanner = new ChainScanner();
  for await (const event of splitLines(bytes)) {
    if (event.kind === "too-long") throw damagedError(tooLongProblem(scanner, event.bytes), where);
    if (event.kind === "torn") throw damagedError(tornProblem(scanner, event.bytes.length), where);
    let bad = 0;
    for (let i = 0; i < event.lines.length; i += 1) {
      const valid = event.invalidUtf8[bad] !== i;
      if (!valid) bad += 1;
      const result = scanner.push(event.lines[i] as string, valid);
      if (isProblem(result)) throw damagedError(result, where);
      yield result;
    }
  }
}
