import { randomUUID } from "node:crypto";
import type { AuditOutcome, AuditRecord } from "@custody/audit";

export const ALERT_FORMAT = "custody.alert/v1";

export const ALERT_SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** Higher is more urgent: what a full queue keeps longest. */
export function severityRank(severity: AlertSeverity): number {
  return ALERT_SEVERITIES.length - ALERT_SEVERITIES.indexOf(severity);
}

/** The parts of an audit record an alert carries: enough to find it in the log, never its details. */
export interface AlertRecordRef {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  reason: string;
  hash: string;
}

/** One alert: which rule fired on which record (and, for a burst, how many records in which window). */
export interface Alert {
  format: typeof ALERT_FORMAT;
  /** Unique per alert; a receiver drops a retried delivery it has already seen by this id. */
  id: string;
  rule: string;
  severity: AlertSeverity;
  summary: string;
  /** When the alert was raised (the engine's clock), ISO 8601 UTC. */
  time: string;
  record: AlertRecordRef;
  burst?: { count: number; windowMs: number; firstSeq: number };
}

/** Alert text never carries more than this much of the record's reason. */
const MAX_REASON_CHARS = 500;
/** A summary is for people; the record (by seq and hash) holds the rest. */
const MAX_SUMMARY_CHARS = 2000;

export function recordRef(record: AuditRecord): AlertRecordRef {
  return {
    seq: record.seq,
    time: record.time,
    actor: record.actor,
    action: record.action,
    target: record.target,
    outcome: record.outcome,
    reason: clipText(record.reason, MAX_REASON_CHARS),
    hash: record.hash,
  };
}

export function makeAlert(fields: Omit<Alert, "format" | "id">): Alert {
  return {
    format: ALERT_FORMAT,
    id: randomUUID(),
    ...fields,
    summary: clipText(fields.summary, MAX_SUMMARY_CHARS),
  };
}

/** At most `max` UTF-16 units, never cutting a surrogate pair in half. */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}
