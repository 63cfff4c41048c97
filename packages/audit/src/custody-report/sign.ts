import { CustodyError, canonicalJsonBytes } from "@custody/core";
import type { Signer } from "@custody/manifest";
import { type CustodyReport, custodyReportSchema, type SignedCustodyReport } from "./schema.js";

/**
 * Signs a report with the vault signer: a detached CMS signature (base64 DER) over the report's RFC 8785
 * canonical JSON. A report that is not a valid v2 report is refused (ERR_INVALID_ARGUMENT) unsigned.
 */
export async function signCustodyReport(report: CustodyReport, signer: Signer): Promise<SignedCustodyReport> {
  const parsed = custodyReportSchema.safeParse(report);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `not a custody report: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
      { details: { issues: parsed.error.issues } },
    );
  }
  const valid = parsed.data as CustodyReport;
  const signature = await signer.sign(canonicalJsonBytes(valid));
  return { report: valid, signature: Buffer.from(signature).toString("base64") };
}
