import { CustodyError } from "@custody/core";
import type {
  SignatureInfo,
  SignatureTimestampOptions,
  Signer,
  TimestampAuthority,
  TimestampInfo,
  TimestampOutcome,
} from "@custody/manifest";
import { measureClockOffset, timestampingSigner } from "@custody/manifest";
import type { CommandContext } from "../command.js";
import { absolute, readText } from "./key-files.js";

/** Options of the commands that timestamp (`--tsa`) or check timestamps (`--tsa-ca`). */
export const tsaOptions = {
  tsa: { type: "string", multiple: true },
  "tsa-ca": { type: "string", multiple: true },
} as const;

/** The TSA trust anchors of --tsa-ca; given, a signature must carry a token that verifies against them. */
export async function tsaTrustFrom(ctx: CommandContext): Promise<SignatureTimestampOptions | undefined> {
  const files = ctx.strings("tsa-ca");
  if (files.length === 0) return undefined;
  const trustAnchors = await Promise.all(files.map((file) => readText(absolute(ctx, file), "TSA CA file")));
  trustAnchors.forEach((pem, index) => {
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `--tsa-ca ${files[index]} holds no PEM certificate`);
    }
  });
  return { trustAnchors, required: true };
}

/** The TSAs of --tsa (tried in order), each trusted through the --tsa-ca anchors. */
export async function tsaAuthoritiesFrom(ctx: CommandContext): Promise<TimestampAuthority[] | undefined> {
  const urls = ctx.strings("tsa");
  const trust = await tsaTrustFrom(ctx);
  if (urls.length === 0) {
    if (trust !== undefined) throw new CustodyError("ERR_USAGE", "--tsa-ca needs --tsa URL");
    return undefined;
  }
  if (trust === undefined) throw new CustodyError("ERR_USAGE", "--tsa needs --tsa-ca FILE (the TSA's CA)");
  for (const url of urls) {
    if (!/^https?:\/\/[^\s]+$/.test(url))
      throw new CustodyError("ERR_USAGE", `--tsa ${url} is not an http(s) URL`);
  }
  return urls.map((url) => ({ url, trust: { trustAnchors: trust.trustAnchors } }));
}

/**
 * Wraps `signer` so its signatures carry a token; a TSA that cannot give one leaves the signature without
 * a token and the outcome in `outcomes`, for the command to report (never silently).
 */
export function timestampedSigner(
  signer: Signer,
  authorities: TimestampAuthority[] | undefined,
): { signer: Signer; outcomes: TimestampOutcome[] } {
  const outcomes: TimestampOutcome[] = [];
  if (authorities === undefined) return { signer, outcomes };
  return {
    signer: timestampingSigner(signer, { authorities, onTimestamp: (outcome) => outcomes.push(outcome) }),
    outcomes,
  };
}

/** One line a person reads: when, how exactly, by whom. */
export function describeTimestamp(info: TimestampInfo): string {
  const accuracy = info.accuracyMs === undefined ? "" : ` (±${info.accuracyMs / 1000} s)`;
  return `trusted time ${info.time.toISOString()}${accuracy} from ${info.tsa.subject}, policy ${info.policy}`;
}

export function timestampJson(info: TimestampInfo) {
  return {
    time: info.time.toISOString(),
    accuracyMs: info.accuracyMs,
    policy: info.policy,
    serialNumber: info.serialNumber,
    tsa: info.tsa,
  };
}

/** The timestamp part of a verification result, as JSON and as a sentence. */
export function signatureTime(info: SignatureInfo): { json: unknown; text: string } {
  switch (info.timestampStatus) {
    case "verified":
      return info.timestamp === undefined
        ? { json: { status: "absent" }, text: "no timestamp" }
        : {
            json: { status: "verified", ...timestampJson(info.timestamp) },
            text: describeTimestamp(info.timestamp),
          };
    case "unchecked":
      return { json: { status: "unchecked" }, text: "a timestamp token not checked (give --tsa-ca)" };
    default:
      return { json: { status: "absent" }, text: "no timestamp: the signing time is the signer's own clock" };
  }
}

/** What `custody package --tsa` (and other signing commands) say about the token they got or did not get. */
export function reportOutcomes(ctx: CommandContext, outcomes: readonly TimestampOutcome[]): unknown[] {
  return outcomes.map((outcome) => {
    if (outcome.kind === "stamped") {
      if (!ctx.json)
        ctx.out(`timestamped: ${describeTimestamp(outcome.timestamp.info)} (${outcome.timestamp.url})`);
      return { status: "stamped", url: outcome.timestamp.url, ...timestampJson(outcome.timestamp.info) };
    }
    ctx.err(
      `warning: timestamp missing (${outcome.error.code}: ${outcome.error.message}); add one later with \`custody timestamp\``,
    );
    return { status: "missing", code: outcome.error.code, message: outcome.error.message };
  });
}

/**
 * Measures the clock against the first TSA that answers, at each phase of a collection; when none does,
 * the record says why (and a warning is printed), so the gap is itself on record.
 */
export function clockOffsetMeter(
  ctx: CommandContext,
  authorities: readonly TimestampAuthority[],
): (phase: "start" | "end") => Promise<Record<string, unknown>> {
  return async (phase) => {
    const failures: unknown[] = [];
    for (const authority of authorities) {
      const measured = await measureClockOffset(authority, { label: phase });
      if (!("error" in measured)) return { phase, ...measured };
      failures.push(measured);
    }
    ctx.err(`warning: clock offset at ${phase} not measured: no TSA answered`);
    return { phase, unavailable: failures };
  };
}
