import { type ReportRecord, recordHash } from "./report-check.ts";

/** What the analyst filters the audit log by; empty fields match everything. */
export interface AuditFilter {
  actor: string;
  action: string;
  target: string;
  outcome: "" | "allow" | "deny" | "error";
  /** `datetime-local` values (the analyst's time zone). */
  from: string;
  to: string;
}

export const NO_FILTER: AuditFilter = { actor: "", action: "", target: "", outcome: "", from: "", to: "" };

/** Whether a record matches: actor, action and target by substring (case-insensitive), outcome exactly, time in range. */
export function matches(record: ReportRecord, filter: AuditFilter): boolean {
  const has = (value: string, part: string) =>
    part === "" || value.toLowerCase().includes(part.trim().toLowerCase());
  if (
    !has(record.actor, filter.actor) ||
    !has(record.action, filter.action) ||
    !has(record.target, filter.target)
  )
    return false;
  if (filter.outcome !== "" && record.outcome !== filter.outcome) return false;
  const time = Date.parse(record.time);
  if (filter.from !== "" && time < Date.parse(filter.from)) return false;
  if (filter.to !== "" && time > Date.parse(filter.to)) return false;
  return true;
}

export type ChainCheck = { ok: true; records: number } | { ok: false; seq: number; why: string };

/**
 * The hash chain of consecutive records, checked in the page: each matches its own hash and names the
 * one before it as `prev`. It shows the records were not edited in transit or in the page; only the
 * checkpoint (signed, verified by the server and by `custody audit verify`) anchors them.
 */
export async function checkChain(records: readonly ReportRecord[]): Promise<ChainCheck> {
  let previous: ReportRecord | undefined;
  for (const record of records) {
    if ((await recordHash(record)) !== record.hash)
      return { ok: false, seq: record.seq, why: "does not match its own hash" };
    if (previous !== undefined && (record.seq !== previous.seq + 1 || record.prev !== previous.hash))
      return { ok: false, seq: record.seq, why: `does not follow record ${previous.seq}` };
    previous = record;
  }
  return { ok: true, records: records.length };
}
