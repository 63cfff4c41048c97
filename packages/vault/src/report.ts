import type { AuditRecord, InclusionProofBundle } from "@custody/audit";
import { verifyInclusionBundle } from "@custody/audit";
import { CustodyError, canonicalJsonBytes, type JsonValue } from "@custody/core";
import { type Signer, type TrustOptions, verifyDetached } from "@custody/manifest";
import type { EvidenceItem } from "./item.js";

/** Everything a court needs about one item, with the proofs that its history was not rewritten. */
export interface CustodyReport {
  format: "custody.report/v1";
  generatedAt: string;
  generatedBy: string;
  vaultId: string;
  item: EvidenceItem;
  /** Every audit record whose target is this item, in log order. */
  events: AuditRecord[];
  /** For each event, an inclusion proof against one signed checkpoint that covers them all. */
  proofs: InclusionProofBundle[];
}

/** The report with a detached CMS signature (base64 DER) over its RFC 8785 canonical JSON. */
export interface SignedCustodyReport {
  report: CustodyReport;
  signature: string;
}

export async function signCustodyReport(report: CustodyReport, signer: Signer): Promise<SignedCustodyReport> {
  const signature = await signer.sign(canonicalJsonBytes(report as unknown as JsonValue));
  return { report, signature: signature.toString("base64") };
}

export interface ReportVerification {
  signer: string;
  signedAt: string;
  events: number;
}

/**
 * Checks a custody report offline with nothing but the vault CA: the report's signature, every event's
 * record hash, and every event's inclusion in a signed checkpoint of the audit log.
 */
export function verifyCustodyReport(signed: SignedCustodyReport, trust: TrustOptions): ReportVerification {
  const info = verifyDetached(
    canonicalJsonBytes(signed.report as unknown as JsonValue),
    Buffer.from(signed.signature, "base64"),
    trust,
  );
  const { report } = signed;
  if (report.proofs.length !== report.events.length) {
    throw new CustodyError("ERR_PROOF_INVALID", "the report does not carry one proof per event");
  }
  report.events.forEach((event, index) => {
    const bundle = report.proofs[index];
    if (bundle === undefined || bundle.record.hash !== event.hash || bundle.record.seq !== event.seq) {
      throw new CustodyError("ERR_PROOF_INVALID", `the proof for event ${event.seq} is for another record`);
    }
    verifyInclusionBundle(bundle, { trust });
  });
  return {
    signer: info.signer.subject,
    signedAt: info.signingTime.toISOString(),
    events: report.events.length,
  };
}
