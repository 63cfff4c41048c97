import type { Logger } from "@custody/core";
import {
  addTimestampToken,
  requestTimestampFromAny,
  signatureTimestampImprint,
  type TimestampAuthority,
} from "@custody/manifest";
import type { FACT, FactDetails } from "./facts.js";

export type ConfiguredTsa = FactDetails<typeof FACT.tsaAdded>;

// a checkpoint is signed while the audit log waits: a TSA that does not answer must not hold it long
const TSA_TIMEOUT_MS = 10_000;

export function tsaAuthority(tsa: ConfiguredTsa): TimestampAuthority {
  return {
    url: tsa.url,
    trust: { trustAnchors: tsa.trustAnchorsPem },
    ...(tsa.policy === undefined ? {} : { policy: tsa.policy }),
  };
}

/**
 * The vault signature with a token from the first configured TSA that gives a valid one. When none does,
 * the signature goes out without a token and a warning says so: a checkpoint or report is never lost to
 * a TSA outage, and the missing token shows in every verification ("no timestamp").
 */
export async function stampVaultSignature(
  signature: Buffer,
  configured: readonly ConfiguredTsa[],
  logger: Logger,
): Promise<Buffer> {
  if (configured.length === 0) return signature;
  try {
    const stamp = await requestTimestampFromAny(
      signatureTimestampImprint(signature),
      configured.map(tsaAuthority),
      {
        timeoutMs: TSA_TIMEOUT_MS,
      },
    );
    return addTimestampToken(signature, stamp.token);
  } catch (error) {
    const code = (error as { code?: string }).code ?? "ERR_INTERNAL";
    logger.warn(
      { code, err: error },
      "timestamp missing: no configured TSA gave a valid token; the signature has none",
    );
    return signature;
  }
}
