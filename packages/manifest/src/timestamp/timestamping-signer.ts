import { CustodyError, toCustodyError } from "@custody/core";
import type { Signer } from "../signer.js";
import { addTimestampToken, signatureTimestampImprint } from "./attach.js";
import {
  requestTimestampFromAny,
  type Timestamp,
  type TimestampAuthority,
  type TimestampRequestOptions,
} from "./client.js";

/** What became of one signature's timestamp: a verified token, or why there is none. */
export type TimestampOutcome =
  | { kind: "stamped"; timestamp: Timestamp }
  | { kind: "missing"; error: CustodyError };

export interface TimestampingOptions extends TimestampRequestOptions {
  /** Tried in order; the first valid token is kept. */
  authorities: readonly TimestampAuthority[];
  /**
   * Told the outcome of every signature. With it, a signature whose TSAs all failed is returned without
   * a token (the operation completes and the caller records the gap); without it, that is an error.
   */
  onTimestamp?: (outcome: TimestampOutcome) => void;
}

/**
 * A Signer whose every signature carries an RFC 3161 token over its signature value (RFC 3161 Appendix A),
 * in the SignerInfo's unsigned attributes. Nothing is skipped silently: no token is either an error or an
 * outcome handed to `onTimestamp`.
 */
export function timestampingSigner(signer: Signer, options: TimestampingOptions): Signer {
  if (options.authorities.length === 0) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "timestamping needs at least one TSA");
  }
  const stamp = async (signature: Buffer): Promise<Buffer> => {
    let timestamp: Timestamp;
    try {
      timestamp = await requestTimestampFromAny(
        signatureTimestampImprint(signature),
        options.authorities,
        options,
      );
    } catch (cause) {
      const error = toCustodyError(cause, "ERR_BACKEND_UNAVAILABLE", "timestamping failed");
      if (options.onTimestamp === undefined || error.code === "ERR_ABORTED") throw error;
      options.onTimestamp({ kind: "missing", error });
      return signature;
    }
    options.onTimestamp?.({ kind: "stamped", timestamp });
    return addTimestampToken(signature, timestamp.token);
  };
  const signDigest = signer.signDigest;
  return {
    certificateChain: signer.certificateChain,
    sign: async (data) => stamp(await signer.sign(data)),
    ...(signDigest === undefined
      ? {}
      : { signDigest: async (sha256: Uint8Array) => stamp(await signDigest(sha256)) }),
  };
}
