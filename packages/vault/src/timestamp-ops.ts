import { X509Certificate } from "node:crypto";
import { CustodyError } from "@custody/core";
import {
  imprintOf,
  requestTimestamp,
  signatureTimestampImprint,
  signatureTimestampToken,
  type TimestampInfo,
  verifyTimestampToken,
} from "@custody/manifest";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";
import { type ConfiguredTsa, tsaAuthority } from "./timestamp-signer.js";

export interface TsaRequest {
  url: string;
  /** PEM certificates of the TSA's CA (or of the TSA itself). */
  trustAnchorsPem: string[];
  policy?: string;
}

export interface TsaConfigured {
  url: string;
  policy: string | undefined;
  /** The probe token's time and TSA: the configuration was tried before it was recorded. */
  probe: { time: string; tsa: string; policy: string };
  /** Every TSA the vault now asks, in order. */
  authorities: number;
}

/**
 * Adds a TSA (custodians only, audited). The TSA is asked for one token first, checked against the given
 * anchors: a URL that does not answer or a CA that does not match is refused and nothing is recorded.
 * The configuration is a fact in the signed log, so a file edited on disk can never add or swap a TSA.
 */
export async function addTimestampAuthority(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  request: TsaRequest,
): Promise<TsaConfigured> {
  const tsa = validTsa(request);
  const target = `vault:${ctx.config.vaultId}`;
  const guarded = {
    principal,
    action: "timestamp.configure",
    resource: { kind: "vault" },
    target,
    details: { url: tsa.url },
  } as const;
  return ctx.guard.run(guarded, async () => {
    if (ctx.ledger.timestampAuthorities.some((known) => known.url === tsa.url)) {
      throw new CustodyError("ERR_ALREADY_EXISTS", `the TSA ${tsa.url} is already configured`);
    }
    const probe = await requestTimestamp(
      imprintOf(Buffer.from(`custody TSA probe ${target}`)),
      tsaAuthority(tsa),
    );
    await ctx.guard.fact(principal.id, FACT.tsaAdded, target, `TSA ${tsa.url} added`, tsa);
    return {
      url: tsa.url,
      policy: tsa.policy,
      probe: describeProbe(probe.info),
      authorities: ctx.ledger.timestampAuthorities.length,
    };
  });
}

/** The TSAs as the log states them. */
export function configuredTimestampAuthorities(ctx: VaultContext): readonly ConfiguredTsa[] {
  return ctx.ledger.timestampAuthorities;
}

function validTsa(request: TsaRequest): ConfiguredTsa {
  if (!/^https?:\/\/\S+$/.test(request.url)) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `a TSA URL is http(s)://, not ${request.url}`);
  }
  const anchors = request.trustAnchorsPem.flatMap(certificatesIn);
  if (anchors.length === 0 || anchors.length > 8) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "give 1 to 8 TSA CA certificates (PEM)");
  }
  return {
    url: request.url,
    trustAnchorsPem: anchors,
    ...(request.policy === undefined ? {} : { policy: request.policy }),
  };
}

function certificatesIn(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    try {
      return new X509Certificate(block).toString();
    } catch (cause) {
      throw new CustodyError("ERR_MALFORMED_CERTIFICATE", "a TSA CA certificate does not parse", { cause });
    }
  });
}

function describeProbe(info: TimestampInfo): TsaConfigured["probe"] {
  return { time: info.time.toISOString(), tsa: info.tsa.subject, policy: info.policy };
}

export interface LogTimestamp {
  /** Records covered: everything up to this tree size existed no later than `time`. */
  treeSize: number;
  rootHash: string;
  time: string;
  tsa: string;
  policy: string;
}

/**
 * Anchors the whole log in trusted time now: a new checkpoint, signed and timestamped. Its Merkle root
 * covers every earlier record (and consistency proofs link every earlier checkpoint to it), so checkpoints
 * and reports made while no TSA answered are bound to this token's time: they existed no later than it.
 * No TSA configured, or none answering, is ERR_TIMESTAMP_MISSING, recorded as the operation's error.
 */
export async function timestampAuditLog(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<LogTimestamp> {
  const request = {
    principal,
    action: "audit.checkpoint",
    resource: { kind: "audit" },
    target: "audit:timestamp",
  } as const;
  return ctx.guard.run(request, async () => {
    const configured = ctx.ledger.timestampAuthorities;
    if (configured.length === 0)
      throw new CustodyError("ERR_TIMESTAMP_MISSING", "no TSA is configured (custody tsa add)");
    const signed = await ctx.guard.checkpoint();
    const token = signatureTimestampToken(signed.signature);
    if (token === undefined) {
      throw new CustodyError(
        "ERR_TIMESTAMP_MISSING",
        `checkpoint ${signed.checkpoint.treeSize} was signed but no TSA gave a token`,
      );
    }
    const trust = { trustAnchors: configured.flatMap((tsa) => tsa.trustAnchorsPem) };
    const info = verifyTimestampToken(token, signatureTimestampImprint(signed.signature), trust);
    return {
      treeSize: signed.checkpoint.treeSize,
      rootHash: signed.checkpoint.rootHash,
      time: info.time.toISOString(),
      tsa: info.tsa.subject,
      policy: info.policy,
    };
  });
}
