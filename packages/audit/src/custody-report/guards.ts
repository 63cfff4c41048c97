import { CustodyError } from "@custody/core";
import { CUSTODY_REPORT_FORMAT, type SignedCustodyReport, signedCustodyReportSchema } from "./schema.js";

const REPORT_FORMAT_FAMILY = /^custody\.report\/v\d+$/;

/** True when `value` has the shape of a signed v2 report (its signature and facts are not checked). */
export function isSignedCustodyReport(value: unknown): value is SignedCustodyReport {
  return signedCustodyReportSchema.safeParse(value).success;
}

/**
 * Throws unless `value` has the shape of a signed v2 report: ERR_UNSUPPORTED_VERSION for another
 * version of the report format, ERR_INVALID_ARGUMENT for anything else, naming the first bad field.
 */
export function assertSignedCustodyReport(value: unknown): asserts value is SignedCustodyReport {
  parseSignedCustodyReport(value);
}

/** The validated report (a copy: unknown keys refused, nothing added). */
export function parseSignedCustodyReport(value: unknown): SignedCustodyReport {
  const format = reportFormatOf(value);
  if (typeof format === "string" && format !== CUSTODY_REPORT_FORMAT && REPORT_FORMAT_FAMILY.test(format)) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_VERSION",
      `this verifier reads ${CUSTODY_REPORT_FORMAT}, not ${format}`,
      { details: { format, supported: [CUSTODY_REPORT_FORMAT] } },
    );
  }
  const parsed = signedCustodyReportSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `not a signed custody report: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
      { details: { issues: parsed.error.issues } },
    );
  }
  return parsed.data as SignedCustodyReport;
}

/** Reads a signed report from its JSON text (a report file), with the checks of assertSignedCustodyReport. */
export function signedCustodyReportFromJson(text: string): SignedCustodyReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the custody report is not JSON", { cause });
  }
  return parseSignedCustodyReport(value);
}

function reportFormatOf(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return undefined;
  const report = (value as { report?: unknown }).report;
  if (typeof report !== "object" || report === null) return undefined;
  return (report as { format?: unknown }).format;
}
