import { X509Certificate } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, isCustodyError, type JsonValue, writeFileAtomic } from "@custody/core";
import { issueCertificate, parseCrl, revokeCertificates } from "@custody/manifest";
import type { AuthenticatedPrincipal, RequestContext } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { fingerprintOf, PKI_FILES } from "./pki.js";
import { VAULT_ACTOR } from "./rotation.js";

/** The server's TLS certificate and key, beside the vault's other keys (0600). */
export const SERVER_FILES = { certificate: "server/tls.pem", key: "server/tls.key" } as const;

const DAY_MS = 86_400_000;
/** A server certificate this close to its end is replaced at the next serve. */
const SERVER_RENEW_BEFORE_MS = 30 * DAY_MS;

export interface ServerCertificate {
  certificatePem: string;
  keyPem: string;
  /** True when this call issued it (and recorded the issuance). */
  issued: boolean;
  serialNumber: string;
  fingerprintSha256: string;
}

/**
 * The server's certificate for `names` (DNS names and IP addresses), issued by the vault CA with the
 * server role. An existing one is reused while it names them all and is not about to expire; a new one
 * is recorded in the log before its files are written, so no certificate serves that the log does not name.
 */
export async function serverCertificate(
  ctx: VaultContext,
  names: readonly string[],
): Promise<ServerCertificate> {
  if (names.length === 0) throw new CustodyError("ERR_INVALID_ARGUMENT", "a server certificate needs a name");
  const existing = await readExisting(ctx);
  if (existing !== undefined && fits(existing.x509, names, ctx.clock.now().getTime())) {
    return { ...existing.files, issued: false, ...identify(existing.x509) };
  }
  const issued = await issueCertificate(ctx.pki.ca, {
    commonName: `custody server ${names[0]}`.slice(0, 64),
    usage: "server",
    subjectAltNames: names,
    clock: ctx.clock,
    keyBits: ctx.pki.keyBits,
  });
  const x509 = new X509Certificate(issued.certificatePem);
  const facts = identify(x509);
  await ctx.guard.vaultEvent(
    VAULT_ACTOR,
    "server.certificate-issued",
    "server",
    `TLS certificate for ${names.join(", ")}`,
    {
      ...facts,
      names: [...names],
      notAfter: new Date(x509.validTo).toISOString(),
    },
  );
  await mkdir(join(ctx.dir, "server"), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(ctx.dir, SERVER_FILES.key), issued.keyPem, { mode: 0o600 });
  await writeFileAtomic(join(ctx.dir, SERVER_FILES.certificate), issued.certificatePem, { mode: 0o600 });
  return { certificatePem: issued.certificatePem, keyPem: issued.keyPem, issued: true, ...facts };
}

async function readExisting(ctx: VaultContext) {
  try {
    const certificatePem = await readFile(join(ctx.dir, SERVER_FILES.certificate), "utf8");
    const keyPem = await readFile(join(ctx.dir, SERVER_FILES.key), "utf8");
    const x509 = new X509Certificate(certificatePem);
    return x509.checkIssued(new X509Certificate(ctx.pki.caCertificatePem))
      ? { x509, files: { certificatePem, keyPem } }
      : undefined;
  } catch {
    return undefined;
  }
}

function fits(x509: X509Certificate, names: readonly string[], now: number): boolean {
  const alt = x509.subjectAltName ?? "";
  const listed = new Set(alt.split(", ").map((entry) => entry.replace(/^(DNS|IP Address):/, "")));
  return names.every((name) => listed.has(name)) && Date.parse(x509.validTo) - now > SERVER_RENEW_BEFORE_MS;
}

function identify(x509: X509Certificate) {
  return { serialNumber: x509.serialNumber.toUpperCase(), fingerprintSha256: fingerprintOf(x509) };
}

export interface CrlStatus {
  crlPem: string;
  nextUpdate: Date | undefined;
}

export async function currentCrl(ctx: VaultContext): Promise<CrlStatus> {
  const crlPem = await readFile(join(ctx.dir, PKI_FILES.crl), "utf8");
  return { crlPem, nextUpdate: parseCrl(crlPem).nextUpdate };
}

/**
 * Signs the CRL again with the same entries and a new validity: an expired CRL handed to TLS refuses
 * every client, so a server re-publishes it well before `nextUpdate`. Recorded in the log.
 */
export async function republishCrl(ctx: VaultContext): Promise<CrlStatus> {
  const crlPath = join(ctx.dir, PKI_FILES.crl);
  const result = await revokeCertificates({ crlPath, ca: ctx.pki.ca, entries: [], clock: ctx.clock });
  const nextUpdate = parseCrl(result.crlPem).nextUpdate;
  await ctx.guard.vaultEvent(
    VAULT_ACTOR,
    "pki.crl-published",
    "crl",
    "the CRL was signed again before it expires",
    {
      crlNumber: result.crlNumber.toString(),
      revoked: result.revoked.length,
      ...(nextUpdate === undefined ? {} : { nextUpdate: nextUpdate.toISOString() }),
    },
  );
  return { crlPem: result.crlPem, nextUpdate };
}

/** Records a login the vault refused (who the certificate named, when it could be read, and why). */
export async function refuseLogin(
  ctx: VaultContext,
  error: unknown,
  context: RequestContext & { certificate?: X509Certificate | undefined },
): Promise<void> {
  const { certificate } = context;
  const commonName =
    certificate === undefined ? undefined : /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  const details: Record<string, JsonValue> = {
    requestId: context.requestId,
    clientAddress: context.clientAddress,
    code: isCustodyError(error) ? error.code : "ERR_IDENTITY_INVALID",
    ...(certificate === undefined ? {} : identify(certificate)),
  };
  const reason = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
  await ctx.guard.refuseLogin(commonName ?? "unauthenticated", reason, details);
}

/** An upload that never reached the vault (client gone, digest mismatch, too large): an `error` record. */
export async function recordIngestFailure(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  caseId: string,
  error: unknown,
  details: Record<string, JsonValue>,
): Promise<void> {
  ctx.guard.assertAuthenticated(principal);
  await ctx.guard.failed(principal, "evidence.ingest", `case:${caseId}`, error, details);
}
