import { CustodyError } from "@custody/core";
import type { CertificateFacts } from "../certificate.js";
import type { ParsedSignedData } from "../cms.js";
import { imprintOf } from "./imprint.js";
import { type TimestampInfo, type TimestampTrust, verifyTimestampToken } from "./verify-token.js";

/** How a signature's timestamp token is checked: the TSAs trusted, and whether a token must be present. */
export interface SignatureTimestampOptions extends TimestampTrust {
  /** A signature without a token is ERR_TIMESTAMP_MISSING (default false: it is checked by the clock policy). */
  required?: boolean;
}

export type SignatureTimestamp =
  | { kind: "verified"; info: TimestampInfo }
  | { kind: "unchecked" }
  | { kind: "absent" };

// the signer's claimed time may run a little ahead of the TSA's
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Verifies the token in a signature's unsigned attributes against the signature value (RFC 3161 Appendix A).
 * Without TSA trust anchors a token is reported "unchecked", never trusted.
 */
export function checkSignatureTimestamp(
  parsed: ParsedSignedData,
  options: SignatureTimestampOptions | undefined,
  signingTime: Date,
): SignatureTimestamp {
  const token = parsed.timestampToken;
  if (token === undefined) {
    if (options?.required === true) {
      throw new CustodyError("ERR_TIMESTAMP_MISSING", "the signature carries no timestamp token");
    }
    return { kind: "absent" };
  }
  if (options === undefined) return { kind: "unchecked" };
  const info = verifyTimestampToken(token, imprintOf(parsed.signature, "sha256"), options);
  if (signingTime.getTime() > info.time.getTime() + CLOCK_SKEW_MS) {
    throw new CustodyError(
      "ERR_TIMESTAMP_INVALID",
      `the signer claims ${signingTime.toISOString()}, after the trusted time ${info.time.toISOString()}`,
    );
  }
  return { kind: "verified", info };
}

/** With a token, the signer's certificate must have been valid at the trusted time. */
export function assertValidAtTimestamp(leaf: CertificateFacts, info: TimestampInfo): void {
  if (info.time < leaf.notBefore || info.time > leaf.notAfter) {
    throw new CustodyError(
      "ERR_TIMESTAMP_OUTSIDE_VALIDITY",
      `the trusted time ${info.time.toISOString()} is outside the signer certificate's validity (${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()})`,
      {
        details: {
          time: info.time.toISOString(),
          notBefore: leaf.notBefore.toISOString(),
          notAfter: leaf.notAfter.toISOString(),
        },
      },
    );
  }
}
