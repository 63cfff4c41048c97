import { CustodyError, canonicalJsonBytes } from "@custody/core";
import { type SignatureInfo, type TimestampInfo, type TrustOptions, verifyDetached } from "@custody/manifest";
import type { Checkpoint } from "../checkpoint.js";
import { type AuditRecord, recordText, sha256Hex } from "../record.js";
import { foldItemFacts } from "./facts.js";
import { parseSignedCustodyReport } from "./guards.js";
import { type ItemRecord, itemAuditTarget } from "./item-record.js";
import { checkProofs, rethrow } from "./proof-check.js";
import type { CustodyReport, ItemState, SignedCustodyReport } from "./schema.js";

export interface ReportVerification {
  /** Subject of the vault signer certificate that signed the report. */
  signer: string;
  signerFingerprintSha256: string;
  /** The signing time in the report's signature. */
  signedAt: string;
  /** `item:<caseId>/<sha256>`: the item every event is about. */
  target: string;
  events: number;
  /** The signed checkpoint every event is proven against. */
  checkpoint: Checkpoint;
  /** The item's state as its fact records leave it (equal to the report's). */
  state: ItemState;
  /** The report signature's verified RFC 3161 time, when it has a token and TSA anchors were given. */
  timestamp?: TimestampInfo;
  timestampStatus: SignatureInfo["timestampStatus"];
}

/**
 * Checks a signed custody report offline, synchronously, with nothing but the trust anchors: the vault
 * signer's signature (role "vault-signer", valid at its signing time); every event is about this item,
 * in log order, once, and matches its own hash; one proof per event, against one signed checkpoint; and
 * the item's ingest record and state are what its fact records say. Throws a CustodyError whose code
 * says what failed (ERR_INVALID_ARGUMENT, ERR_UNSUPPORTED_VERSION, the signature's own code,
 * ERR_PROOF_INVALID, ERR_AUDIT_CHECKPOINT_INVALID, ERR_INTEGRITY_MISMATCH) and whose message names the event.
 */
export function verifyCustodyReport(signed: SignedCustodyReport, trust: TrustOptions): ReportVerification {
  const { report, signature } = parseSignedCustodyReport(signed);
  // Only the vault's own signer speaks for the log. Certificates are checked at the signing time, so a
  // report outlives its signer's certificate (unless the caller asks for more); a CRL still refuses a
  // revoked signer whatever the signing time claims.
  const vaultTrust: TrustOptions = {
    ...trust,
    requiredRole: "vault-signer",
    validity: trust.validity ?? "signing-time",
  };
  const info = verifySignature(report, signature, vaultTrust);
  const target = itemAuditTarget(report.item.record);
  checkEvents(report.events, target, report.item.record);
  // the checkpoint may predate the TSA: its token is checked when present, required only of the report
  const timestamp =
    trust.timestamp === undefined ? {} : { timestamp: { ...trust.timestamp, required: false } };
  const checkpoint = checkProofs(report.events, report.proofs, { ...vaultTrust, ...timestamp });
  const state = foldItemFacts(report.events, report.item.record);
  checkState(state, report.item.state);
  return {
    signer: info.signer.subject,
    signerFingerprintSha256: info.signer.fingerprintSha256,
    signedAt: info.signingTime.toISOString(),
    target,
    events: report.events.length,
    checkpoint,
    state,
    ...(info.timestamp === undefined ? {} : { timestamp: info.timestamp }),
    timestampStatus: info.timestampStatus,
  };
}

function verifySignature(report: CustodyReport, signature: string, trust: TrustOptions): SignatureInfo {
  try {
    return verifyDetached(canonicalJsonBytes(report), Buffer.from(signature, "base64"), trust);
  } catch (cause) {
    throw rethrow(cause, "the report's signature", "ERR_SIGNATURE_INVALID");
  }
}

function checkEvents(events: readonly AuditRecord[], target: string, record: ItemRecord): void {
  let previous: number | undefined;
  for (const event of events) {
    if (event.target !== target && !isSessionEvent(event, record) && !isRemediationEvent(event, record)) {
      throw new CustodyError(
        "ERR_PROOF_INVALID",
        `event ${event.seq} (${event.action}) is about ${event.target}, not this report's item ${target}`,
        { details: { seq: event.seq, target: event.target, expected: target } },
      );
    }
    if (previous !== undefined && event.seq <= previous) {
      throw new CustodyError(
        "ERR_PROOF_INVALID",
        `event ${event.seq} follows event ${previous}: events must be in log order, each once`,
        { details: { seq: event.seq, previous } },
      );
    }
    if (sha256Hex(recordText(event, event.hash).hashed) !== event.hash) {
      throw new CustodyError("ERR_PROOF_INVALID", `event ${event.seq} does not match its own hash`, {
        details: { seq: event.seq },
      });
    }
    previous = event.seq;
  }
}

function checkState(folded: ItemState, stated: ItemState): void {
  for (const key of ["legalHold", "retainUntil", "purged"] as const) {
    if (folded[key] !== stated[key]) {
      throw new CustodyError(
        "ERR_INTEGRITY_MISMATCH",
        `the report states ${key} ${String(stated[key])}, but the item's fact records give ${String(folded[key])}`,
        { details: { field: key, stated: stated[key] ?? null, recorded: folded[key] ?? null } },
      );
    }
  }
}

/**
 * An item a live-response session produced (a file it took, its transcript) names the session in its
 * `session` label, bound at ingest: the session's own records (`live.*`, same session and case) belong
 * to its history, so its report shows the commands that produced it.
 */
/**
 * A remediation quarantined the item's bytes before deleting them: its fact and its undo name the item
 * (`itemIds`, same case), so they belong to the item's history.
 */
function isRemediationEvent(event: AuditRecord, record: ItemRecord): boolean {
  const ids = event.details.itemIds;
  return (
    (event.action === "remediation.recorded" || event.action === "remediation.undone") &&
    event.details.caseId === record.caseId &&
    Array.isArray(ids) &&
    ids.includes(record.id)
  );
}

function isSessionEvent(event: AuditRecord, record: ItemRecord): boolean {
  const sessionId = record.labels.session;
  return (
    sessionId !== undefined &&
    event.action.startsWith("live.") &&
    event.details.sessionId === sessionId &&
    event.details.caseId === record.caseId
  );
}
