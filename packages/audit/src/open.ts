import { toCustodyError } from "@custody/core";
import type { AuditLog, AuditLogOptions } from "./audit-log.js";
import { FileAuditSink } from "./file-sink.js";
import { LogImpl } from "./log.js";
import type { AuditEvent } from "./record.js";
import type { AuditSink, SinkRecovery } from "./sink.js";

export const RECOVERY_ACTOR = "custody.audit";
export const RECOVERY_ACTION = "audit.recover";

/** Opens the file sink in `dir` (created if absent) and the log over it. */
export async function openFileAuditLog(options: AuditLogOptions & { dir: string }): Promise<AuditLog> {
  const sink = await FileAuditSink.open(options.dir);
  return openAuditLog(sink, options);
}

/**
 * Opens a log over any sink: replays and checks what is stored (a damaged log is refused with the code of
 * its first problem), then records each repair the sink made while opening.
 */
export async function openAuditLog(sink: AuditSink, options: AuditLogOptions): Promise<AuditLog> {
  try {
    const log = await LogImpl.replay(sink, options);
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
