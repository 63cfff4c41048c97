import { createHash, randomBytes, timingSafeEqual, X509Certificate } from "node:crypto";
import { CustodyError, canonicalJsonBytes, isCustodyError, type JsonValue } from "@custody/core";
import { issueDeviceCertificate } from "@custody/manifest";
import type { AuthenticatedPrincipal, RequestContext } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { DEVICE_FACT, type DeviceFacts } from "./device-facts.js";
import { fingerprintOf } from "./pki.js";

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

const HOUR_MS = 3_600_000;
/** An enrollment token lives one hour unless asked otherwise, and never more than a week. */
export const TOKEN_DEFAULT_TTL_MS = HOUR_MS;
export const TOKEN_MAX_TTL_MS = 7 * 24 * HOUR_MS;
const TOKEN_PATTERN = /^cet1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$/;
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export interface EnrollmentTokenRequest {
  caseId?: string;
  /** How long the token may be used (default one hour, at most seven days). */
  expiresInMs?: number;
  /** How many devices it may enroll (default 1). */
  uses?: number;
}

export interface EnrollmentToken {
  /** `cet1.<tokenId>.<secret>.<sha256 of the vault CA certificate>`: shown once, never stored. */
  token: string;
  tokenId: string;
  expiresAt: string;
  uses: number;
  caseId?: string;
}

export interface EnrollmentRequest {
  token: string;
  csrPem: string;
  facts: DeviceFacts;
}

export interface Enrollment {
  deviceId: string;
  certificatePem: string;
  caPem: string;
}

/** `D-` and 26 Crockford base32 characters of 128 random bits. */
export function newDeviceId(): string {
  let value = BigInt(`0x${randomBytes(16).toString("hex")}`);
  let text = "";
  for (let i = 0; i < 26; i += 1) {
    text = (CROCKFORD[Number(value & 31n)] ?? "0") + text;
    value >>= 5n;
  }
  return `D-${text}`;
}

/** A one-time (or `uses`-time) enrollment token; the vault keeps only the hash of its secret, in the log. */
export async function createEnrollmentToken(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  request: EnrollmentTokenRequest,
): Promise<EnrollmentToken> {
  const ttl = request.expiresInMs ?? TOKEN_DEFAULT_TTL_MS;
  const uses = request.uses ?? 1;
  if (!Number.isInteger(ttl) || ttl < 1000 || ttl > TOKEN_MAX_TTL_MS) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "a token expires after 1 s to 7 days");
  }
  if (!Number.isInteger(uses) || uses < 1 || uses > 1000) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "a token enrolls 1 to 1000 devices");
  }
  const { caseId } = request;
  const guarded = {
    principal,
    action: "device.enroll",
    resource: caseId === undefined ? ({ kind: "vault" } as const) : ({ kind: "case", caseId } as const),
    target: caseId === undefined ? "devices" : `case:${caseId}`,
    details: { change: "enrollment-token", uses },
  } as const;
  return ctx.guard.run(guarded, async () => {
    const tokenId = randomBytes(12).toString("base64url");
    const secret = randomBytes(32).toString("base64url");
    const expiresAt = new Date(ctx.clock.now().getTime() + ttl).toISOString();
    const caSha256 = fingerprintOf(new X509Certificate(ctx.pki.caCertificatePem));
    await ctx.guard.fact(
      principal.id,
      DEVICE_FACT.tokenMade,
      `token:${tokenId}`,
      `enrollment token for ${uses} device(s) until ${expiresAt}`,
      { tokenId, secretSha256: sha256(secret), ...(caseId === undefined ? {} : { caseId }), expiresAt, uses },
    );
    return {
      token: `cet1.${tokenId}.${secret}.${caSha256}`,
      tokenId,
      expiresAt,
      uses,
      ...(caseId === undefined ? {} : { caseId }),
    };
  });
}

/**
 * Enrolls a device: the token (not a login) authorizes it. The token must parse, name this vault's CA,
 * exist, match by hash (compared in constant time), be unexpired and have uses left. The certificate
 * comes from the request's key; the token's use and the device are facts in the log. Every refusal is
 * recorded as a denied `device.enroll`, and changes nothing.
 */
export async function enrollDevice(
  ctx: VaultContext,
  request: EnrollmentRequest,
  context: RequestContext,
): Promise<Enrollment> {
  const parsed = TOKEN_PATTERN.exec(typeof request.token === "string" ? request.token : "");
  const tokenId = parsed?.[1];
  const actor = tokenId === undefined ? "unauthenticated" : `token:${tokenId}`;
  const refuse = async (reason: string, code = "ERR_ENROLLMENT_TOKEN_INVALID", cause?: unknown) => {
    await ctx.guard.refuseAnonymous(actor, "device.enroll", "devices", reason, {
      requestId: context.requestId,
      clientAddress: context.clientAddress,
      code,
      hostname: String(request.facts?.hostname ?? "").slice(0, 253),
    });
    if (code !== "ERR_ENROLLMENT_TOKEN_INVALID") throw cause;
    // one answer for every token failure: the caller learns nothing of which check failed
    return new CustodyError("ERR_ENROLLMENT_TOKEN_INVALID", "the enrollment token is not valid");
  };
  if (parsed === null || tokenId === undefined) throw await refuse("the token does not parse");
  await ctx.guard.catchUp();
  return ctx.locks.with([`token:${tokenId}`], async () => {
    const problem = tokenProblem(ctx, tokenId, parsed[2] ?? "", parsed[3] ?? "");
    if (problem !== undefined) throw await refuse(problem);
    const token = ctx.ledger.live.tokens.get(tokenId);
    if (token === undefined) throw await refuse("unknown token");
    const deviceId = newDeviceId();
    let issued: ReturnType<typeof issueDeviceCertificate>;
    try {
      issued = issueDeviceCertificate(ctx.pki.ca, request.csrPem, { deviceId, clock: ctx.clock });
    } catch (error) {
      const code = isCustodyError(error) ? error.code : "ERR_INVALID_ARGUMENT";
      throw await refuse(`the certificate request was refused: ${(error as Error).message}`, code, error);
    }
    const x509 = new X509Certificate(issued.certificatePem);
    const serialNumber = x509.serialNumber.toUpperCase();
    const factsSha256 = sha256(canonicalJsonBytes(request.facts as unknown as JsonValue));
    const target = `device:${deviceId}`;
    await ctx.guard.vaultEvent(actor, "device.enroll", target, `enrolled with token ${tokenId}`, {
      requestId: context.requestId,
      clientAddress: context.clientAddress,
      tokenId,
      publicKeySha256: issued.publicKeySha256,
      factsSha256,
    });
    // another replica may have used the token meanwhile: after a lost race, it must still have a use left
    const used = await ctx.guard.fact(
      actor,
      DEVICE_FACT.tokenUsed,
      `token:${tokenId}`,
      `enrolled ${deviceId}`,
      { tokenId, deviceId, usesLeft: token.usesLeft - 1 },
      async () => tokenProblem(ctx, tokenId, parsed[2] ?? "", parsed[3] ?? "") === undefined,
    );
    if (used === undefined) throw await refuse("no uses left (used on another replica)");
    await ctx.guard.fact(actor, DEVICE_FACT.enrolled, target, `certificate ${serialNumber}`, {
      deviceId,
      serialNumber,
      fingerprintSha256: fingerprintOf(x509),
      publicKeySha256: issued.publicKeySha256,
      facts: request.facts,
      factsSha256,
      tokenId,
      ...(token.caseId === undefined ? {} : { caseId: token.caseId }),
    });
    return { deviceId, certificatePem: issued.certificatePem, caPem: ctx.pki.caCertificatePem };
  });
}

/** Why the token cannot enroll (for the audit record), or undefined when it can. */
function tokenProblem(ctx: VaultContext, tokenId: string, secret: string, caSha256: string) {
  const token = ctx.ledger.live.tokens.get(tokenId);
  const ours = fingerprintOf(new X509Certificate(ctx.pki.caCertificatePem));
  if (caSha256 !== ours) return "the token names another vault's CA";
  if (token === undefined) return "unknown token";
  const given = Buffer.from(sha256(secret), "hex");
  if (!timingSafeEqual(given, Buffer.from(token.secretSha256, "hex"))) return "wrong secret";
  if (Date.parse(token.expiresAt) <= ctx.clock.now().getTime()) return `expired at ${token.expiresAt}`;
  if (token.usesLeft <= 0) return "no uses left";
  return undefined;
}
