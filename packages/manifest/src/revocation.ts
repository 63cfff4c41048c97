import { readFile } from "node:fs/promises";
import {
  type Clock,
  CustodyError,
  systemClock,
  toCustodyError,
  withFileLock,
  writeFileAtomic,
} from "@custody/core";
import { DEFAULT_ALLOWED_ALGORITHMS } from "./algorithms.js";
import { readCertificatePem } from "./certificate.js";
import { createCrl, type ParsedCrl, parseCrl } from "./crl.js";
import { checkCrlSignature } from "./crl-check.js";
import type { CertificateAuthority } from "./pki.js";

/** A serial to revoke: hex in any case, colons allowed; `revokedAt` defaults to the clock's now. */
export interface RevocationEntry {
  serialNumber: string;
  revokedAt?: Date;
}

export interface RevokeOptions {
  /** The signed CRL file: the only record of which certificates are revoked. */
  crlPath: string;
  ca: CertificateAuthority;
  entries: readonly RevocationEntry[];
  clock?: Clock;
}

export interface RevocationResult {
  crlPem: string;
  /** Every serial on the new CRL (upper-case hex, as X509Certificate.serialNumber), oldest first. */
  revoked: { serialNumber: string; revokedAt: Date }[];
  /** The serials this call added; one already revoked keeps its first revocation date. */
  added: string[];
  crlNumber: bigint;
}

// In-process callers queue per file; separate processes take turns through a lock file beside the CRL
// (a read-modify-write of one file: without the lock, two revocations at once could lose one).
const queues = new Map<string, Promise<unknown>>();

/**
 * Adds serials to the CRL at `crlPath`: reads it and verifies it against the CA (a corrupt or foreign file is
 * ERR_MALFORMED_CRL, a missing one ERR_NOT_FOUND), signs a new CRL holding the old entries and the new, and
 * replaces the file durably (temp file, fsync, rename, fsync of the directory). A crash leaves the old CRL or
 * the new one, never a torn or unsigned one; when this resolves, the revocation is on disk. Processes
 * revoking into one CRL at once take turns (ERR_CONFLICT if another holds it for more than 10 s).
 */
export function revokeCertificates(options: RevokeOptions): Promise<RevocationResult> {
  const previous = queues.get(options.crlPath) ?? Promise.resolve();
  const lock = { code: "ERR_CONFLICT", what: "the revocation list" } as const;
  const next = previous
    .catch(() => undefined)
    .then(() => withFileLock(`${options.crlPath}.lock`, lock, () => revokeNow(options)));
  queues.set(options.crlPath, next);
  void next
    .finally(() => {
      if (queues.get(options.crlPath) === next) queues.delete(options.crlPath);
    })
    .catch(() => undefined);
  return next;
}

async function revokeNow(options: RevokeOptions): Promise<RevocationResult> {
  const now = (options.clock ?? systemClock).now();
  const current = verifiedCrl(await readCrlFile(options.crlPath), options.ca.certificatePem);
  const revoked = new Map(current.revoked);
  const added: string[] = [];
  for (const entry of options.entries) {
    const serial = serialValue(entry.serialNumber);
    if (revoked.has(serial)) continue;
    revoked.set(serial, entry.revokedAt ?? now);
    added.push(serialHex(serial));
  }
  const list = [...revoked].map(([serial, revokedAt]) => ({ serialNumber: serialHex(serial), revokedAt }));
  const crlNumber = nextCrlNumber(current, now);
  const crlPem = createCrl(options.ca, list, { clock: { now: () => now }, crlNumber });
  await writeFileAtomic(options.crlPath, crlPem);
  return { crlPem, revoked: list, added, crlNumber };
}

/** Writes a new, empty CRL signed by the CA at `crlPath`; never replaces an existing file (ERR_ALREADY_EXISTS). */
export async function initRevocationList(options: {
  crlPath: string;
  ca: CertificateAuthority;
  clock?: Clock;
}): Promise<string> {
  const crlPem = createCrl(options.ca, [], options.clock === undefined ? {} : { clock: options.clock });
  await writeFileAtomic(options.crlPath, crlPem, { exclusive: true });
  return crlPem;
}

/**
 * The revoked serials (upper-case hex) of a CRL, after checking that the CA signed it: a corrupt, foreign or
 * tampered CRL is ERR_MALFORMED_CRL, never an empty set.
 */
export function readRevokedSerials(crlPem: string, caPem: string): Set<string> {
  return new Set([...verifiedCrl(crlPem, caPem).revoked.keys()].map(serialHex));
}

function verifiedCrl(crlPem: string, caPem: string): ParsedCrl {
  const crl = parseCrl(crlPem);
  const ca = readCertificatePem(caPem, "the CA certificate");
  checkCrlSignature(crl, ca, new Set(DEFAULT_ALLOWED_ALGORITHMS));
  return crl;
}

async function readCrlFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read the CRL ${file}`);
  }
}

// RFC 5280 §5.2.3: CRL numbers only increase, even for two revocations within one second
function nextCrlNumber(current: ParsedCrl, now: Date): bigint {
  const bySeconds = BigInt(Math.floor(now.getTime() / 1000));
  const after = (current.crlNumber ?? 0n) + 1n;
  return after > bySeconds ? after : bySeconds;
}

function serialValue(hex: string): bigint {
  const digits = hex.replaceAll(":", "");
  if (!/^[0-9a-fA-F]{1,40}$/.test(digits)) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `not a hex serial number: ${JSON.stringify(hex)}`);
  }
  return BigInt(`0x${digits}`);
}

/** Upper-case hex, two digits per byte, no leading zero byte: what X509Certificate.serialNumber prints. */
export function serialHex(serial: bigint): string {
  if (serial < 0n) return `-${serialHex(-serial)}`;
  const hex = serial.toString(16).toUpperCase();
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}
