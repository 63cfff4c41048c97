import { canonicalJson } from "@custody/core";
import { bytesOfHex, hexOf, sha256, verifyInclusionPath } from "./merkle.ts";

// What the page checks of a signed custody report, with WebCrypto only: every event matches its own hash,
// is about this item, in log order, once; one inclusion proof per event, each for that record, all against
// one checkpoint, each audit path leading to the checkpoint's root; the ingest record is the one the
// report shows; the item's hold, retention and purge state is what its fact records give.
// It does NOT check CMS signatures (the report's, the checkpoint's), the signer's certificate chain and
// revocation, or RFC 3161 time-stamps: a browser has no CMS verifier, and `custody report verify` does.

/** The parts of a report the page reads; the schema (`custody.report/v2`) is checked by the vault and CLI. */
export interface ReportRecord {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  reason: string;
  details: Record<string, unknown>;
  prev: string;
  hash: string;
  seal?: string;
}

export interface ReportCheckpoint {
  format: string;
  treeSize: number;
  rootHash: string;
  time: string;
  prevCheckpoint: string | null;
}

export interface ReportProof {
  format: string;
  record: ReportRecord;
  proof: string[];
  checkpoint: { checkpoint: ReportCheckpoint; signature: string };
}

export interface PageReport {
  format: string;
  generatedAt: string;
  generatedBy: string;
  vaultId: string;
  item: {
    record: { id: string; caseId: string; labels: Record<string, string>; [key: string]: unknown };
    state: { legalHold: boolean; retainUntil?: string; purged: boolean };
  };
  events: ReportRecord[];
  proofs: ReportProof[];
}

export type CheckOutcome =
  | { ok: true; events: number; checkpoint: ReportCheckpoint; target: string }
  | { ok: false; code: string; message: string; seq?: number };

/** What the page leaves to `custody report verify`, shown next to every verdict. */
export const NOT_CHECKED_IN_PAGE = [
  "the report's CMS signature by the vault signer",
  "the checkpoint's CMS signature",
  "the signer's certificate chain to the vault's trust anchors, and its revocation",
  "RFC 3161 time-stamp tokens",
] as const;

class CheckFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly seq?: number,
  ) {
    super(message);
  }
}

/** Checks a signed report's hashes and proofs in the page; never throws, the outcome says what failed. */
export async function checkReportInPage(signed: unknown): Promise<CheckOutcome> {
  try {
    const report = reportOf(signed);
    const target = `item:${report.item.record.caseId}/${report.item.record.id}`;
    await checkEvents(report, target);
    const checkpoint = await checkProofs(report);
    await checkIngest(report);
    checkState(report);
    return { ok: true, events: report.events.length, checkpoint, target };
  } catch (error) {
    if (error instanceof CheckFailure)
      return { ok: false, code: error.code, message: error.message, ...seqOf(error) };
    return {
      ok: false,
      code: "ERR_INVALID_ARGUMENT",
      message: `the report cannot be read: ${String(error)}`,
    };
  }
}

function seqOf(error: CheckFailure): { seq?: number } {
  return error.seq === undefined ? {} : { seq: error.seq };
}

function reportOf(signed: unknown): PageReport {
  const value = signed as { report?: PageReport; signature?: unknown };
  const report = value?.report;
  if (typeof value?.signature !== "string" || report === undefined || report === null)
    throw new CheckFailure("ERR_INVALID_ARGUMENT", "not a signed custody report (no report or signature)");
  if (report.format !== "custody.report/v2")
    throw new CheckFailure("ERR_UNSUPPORTED_VERSION", `report format ${String(report.format)} is not known`);
  if (!Array.isArray(report.events) || !Array.isArray(report.proofs))
    throw new CheckFailure("ERR_INVALID_ARGUMENT", "the report has no events or proofs");
  return report;
}

async function checkEvents(report: PageReport, target: string): Promise<void> {
  let previous: number | undefined;
  for (const event of report.events) {
    if (event.target !== target && !isSessionEvent(event, report))
      throw new CheckFailure("ERR_PROOF_INVALID", `event ${event.seq} is about ${event.target}`, event.seq);
    if (previous !== undefined && event.seq <= previous)
      throw new CheckFailure("ERR_PROOF_INVALID", `event ${event.seq} is out of log order`, event.seq);
    if ((await recordHash(event)) !== event.hash)
      throw new CheckFailure(
        "ERR_PROOF_INVALID",
        `event ${event.seq} does not match its own hash`,
        event.seq,
      );
    previous = event.seq;
  }
}

/** sha256 of the record's canonical JSON without its hash and seal: what the log chained. */
export async function recordHash(record: ReportRecord): Promise<string> {
  const { hash: _hash, seal: _seal, ...body } = record;
  return hexOf(await sha256(new TextEncoder().encode(canonicalJson(body))));
}

function isSessionEvent(event: ReportRecord, report: PageReport): boolean {
  const sessionId = report.item.record.labels.session;
  return (
    sessionId !== undefined &&
    event.action.startsWith("live.") &&
    event.details.sessionId === sessionId &&
    event.details.caseId === report.item.record.caseId
  );
}

async function checkProofs(report: PageReport): Promise<ReportCheckpoint> {
  const first = report.proofs[0];
  if (first === undefined || report.proofs.length !== report.events.length)
    throw new CheckFailure(
      "ERR_PROOF_INVALID",
      `the report carries ${report.proofs.length} proofs for ${report.events.length} events`,
    );
  const anchor = canonicalJson(first.checkpoint);
  const { checkpoint } = first.checkpoint;
  for (const [index, event] of report.events.entries()) {
    const bundle = report.proofs[index] as ReportProof;
    if (canonicalJson(bundle.record) !== canonicalJson(event))
      throw new CheckFailure(
        "ERR_PROOF_INVALID",
        `the proof for event ${event.seq} is for another record`,
        event.seq,
      );
    if (canonicalJson(bundle.checkpoint) !== anchor)
      throw new CheckFailure(
        "ERR_PROOF_INVALID",
        `the proof for event ${event.seq} is against another checkpoint`,
        event.seq,
      );
    const holds = await verifyInclusionPath({
      leafIndex: event.seq,
      treeSize: checkpoint.treeSize,
      recordHash: bytesOfHex(event.hash),
      proof: bundle.proof.map(bytesOfHex),
      root: bytesOfHex(checkpoint.rootHash),
    });
    if (!holds)
      throw new CheckFailure(
        "ERR_PROOF_INVALID",
        `the proof for event ${event.seq} does not lead to the checkpoint's root`,
        event.seq,
      );
  }
  return checkpoint;
}

async function checkIngest(report: PageReport): Promise<void> {
  const ingest = report.events.find((e) => e.action === "evidence.ingested");
  if (ingest === undefined)
    throw new CheckFailure(
      "ERR_INTEGRITY_MISMATCH",
      "no evidence.ingested record: the log never took in this item",
    );
  const digest = hexOf(await sha256(new TextEncoder().encode(canonicalJson(report.item.record))));
  if (ingest.details.recordSha256 !== digest)
    throw new CheckFailure(
      "ERR_INTEGRITY_MISMATCH",
      "the item record is not the one its ingest record names",
      ingest.seq,
    );
}

/** The hold, retention and purge state the fact records give (the vault's fold checks more). */
export function foldState(events: readonly ReportRecord[]): PageReport["item"]["state"] {
  const state: PageReport["item"]["state"] = { legalHold: false, purged: false };
  for (const event of events) {
    if (event.outcome !== "allow") continue;
    const d = event.details;
    if (event.action === "evidence.ingested") {
      state.legalHold = d.legalHold === true;
      if (typeof d.retainUntil === "string") state.retainUntil = d.retainUntil;
    } else if (event.action === "evidence.hold-set") state.legalHold = true;
    else if (event.action === "evidence.hold-released") state.legalHold = false;
    else if (event.action === "evidence.retention-extended" && typeof d.retainUntil === "string")
      state.retainUntil = d.retainUntil;
    else if (event.action === "evidence.purged") state.purged = true;
  }
  return state;
}

function checkState(report: PageReport): void {
  const folded = foldState(report.events);
  for (const key of ["legalHold", "retainUntil", "purged"] as const) {
    if (folded[key] !== report.item.state[key])
      throw new CheckFailure(
        "ERR_INTEGRITY_MISMATCH",
        `the report states ${key} ${String(report.item.state[key])}, the fact records give ${String(folded[key])}`,
      );
  }
}
