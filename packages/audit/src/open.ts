import { toCustodyError } from "@custody/core";
import type { AuditLog, AuditLogOptions, UnsealedTail } from "./audit-log.js";
import { type BlockingWrites, FileAuditSink } from "./file-sink.js";
import { LogImpl } from "./log.js";
import type { AuditEvent } from "./record.js";
import { type AuditSink, isSharedSink, type SinkRecovery } from "./sink.js";

export const RECOVERY_ACTOR = "custody.audit";
export const RECOVERY_ACTION = "audit.recover";
/** Recorded when open signs the sealed records a crashed writer left after its last checkpoint. */
export const TAIL_SIGNED_ACTION = "audit.tail-signed";

/** Opens the file sink in `dir` (created if absent) and the log over it. */
export async function openFileAuditLog(
  options: AuditLogOptions & {
    dir: string;
    /**
     * `true`: write each batch with a synchronous write in the calling thread instead of through libuv's
     * thread pool: a sequential append then costs what a raw write + fdatasync does, but the event loop
     * is blocked for every sync; for a process that serves nobody else (a CLI command). `"when-alone"`:
     * only a record with nothing else queued, while writes take under a millisecond (a server).
     */
    blockingWrites?: BlockingWrites;
  },
): Promise<AuditLog> {
  const sink = await FileAuditSink.open(options.dir, { blockingWrites: options.blockingWrites ?? false });
  return openAuditLog(sink, options);
}

/**
 * Opens a log over any sink: replays and checks what is stored (a damaged log is refused with the code of
 * its first problem, an unsealed tail with ERR_AUDIT_UNSEALED_TAIL, before anything is written), signs a
 * sealed tail a crashed writer left, then records each repair.
 */
export async function openAuditLog(sink: AuditSink, options: AuditLogOptions): Promise<AuditLog> {
  try {
    const log = await LogImpl.replay(sink, options);
    const tail = log.sealedTail;
    // On a shared sink a sealed tail is other writers' records not yet signed, not a crash.
    if (tail === undefined || isSharedSink(sink)) await log.catchUpWitness();
    else {
      // Signed first: these records were promised durable by a writer of this vault, which died
      // before its checkpoint; the record that says so is covered by the next checkpoint.
      const signed = await log.checkpoint();
      await log.append(tailSignedEvent(sink, tail, signed.checkpoint.treeSize));
    }
    for (const recovery of sink.recoveries) await log.append(recoveryEvent(sink, recovery));
    log.startTimer();
    return log;
  } catch (error) {
    await sink.close().catch(() => {});
    throw toCustodyError(error, "ERR_IO", `cannot open audit log ${sink.description}`);
  }
}

function recoveryEvent(sink: AuditSink, recovery: SinkRecovery): AuditEvent {
  const reason = recoveryReason(recovery);
  return {
    actor: RECOVERY_ACTOR,
    action: RECOVERY_ACTION,
    target: sink.description.slice(-1024),
    outcome: "error",
    reason,
    details: { ...recovery },
  };
}

/**
 * Outcome "error", like the sink's repairs: the previous writer did not finish (it never signed what it
 * wrote), and "allow" would read as a decision someone made.
 */
function tailSignedEvent(sink: AuditSink, tail: UnsealedTail, treeSize: number): AuditEvent {
  return {
    actor: RECOVERY_ACTOR,
    action: TAIL_SIGNED_ACTION,
    target: sink.description.slice(-1024),
    outcome: "error",
    reason: `signed ${tail.count} sealed record(s) from ${tail.fromSeq} left unsigned by a writer that stopped before its checkpoint`,
    details: { ...tail, treeSize },
  };
}

function recoveryReason(recovery: SinkRecovery): string {
  switch (recovery.kind) {
    case "torn-tail":
      return `cut ${recovery.tornBytes} torn bytes after the last whole record; kept at ${recovery.keptAt}`;
    case "completed-line":
      return `the last record (${recovery.bytes} bytes at ${recovery.offset}) lacked its newline; completed it`;
    case "incomplete-checkpoint":
      return `set aside the incomplete checkpoint ${recovery.treeSize}; kept at ${recovery.keptAt}`;
  }
}
