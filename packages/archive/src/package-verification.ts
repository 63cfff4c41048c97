import { ERROR_CODES, type ErrorCode } from "@custody/core";
import type { PackageProblem, PackageReport } from "./verify.js";

/** The one result shape of a package verification, whoever verified it: passed or not, and why. */
export interface PackageVerification {
  ok: boolean;
  problems: PackageProblem[];
}

/** A verification as an evidence item records it (the `package` field of an item record). */
export interface RecordedPackageVerification {
  verified: boolean;
  problems: readonly { code: string; path?: string; message: string }[];
}

/**
 * `{ ok, problems }` of a `verifyPackage` report or of a verification recorded at ingest. A recorded code
 * that is not a known error code (a record written by another version) reads as ERR_PACKAGE_INVALID.
 */
export function packageVerification(
  source: Pick<PackageReport, "ok" | "problems"> | RecordedPackageVerification,
): PackageVerification {
  if ("ok" in source) return { ok: source.ok, problems: [...source.problems] };
  return {
    ok: source.verified,
    problems: source.problems.map((p) => ({
      code: knownCode(p.code),
      message: p.message,
      ...(p.path === undefined ? {} : { path: p.path }),
    })),
  };
}

function knownCode(code: string): ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : "ERR_PACKAGE_INVALID";
}
