import { sign } from "node:crypto";
import { type Clock, CustodyError, systemClock } from "@custody/core";
import { readCertificatePem } from "./certificate.js";
import {
  type Asn1,
  algorithm,
  bitString,
  contextPrimitive,
  contextTag,
  DerReader,
  DerType,
  integer,
  OID,
  octets,
  oid,
  parseDer,
  pemBlocks,
  seq,
  time,
  toDer,
  toPem,
} from "./der.js";
import { loadPrivateKey } from "./keys.js";
import { assertCaKey, type CertificateAuthority } from "./pki.js";

export interface RevokedCertificate {
  /** Hex, any case, as `X509Certificate.serialNumber` or `IssuedCertificate.serialNumber` gives it. */
  serialNumber: string;
  revokedAt: Date;
}

export interface CrlOptions {
  clock?: Clock;
  /** How long relying parties may use this list; 30 days by default. */
  nextUpdateDays?: number;
  /** Monotonic CRL number; the current time in seconds by default. */
  crlNumber?: number | bigint;
}

/** A v2 X.509 CRL signed by the CA (sha256WithRSAEncryption), as PEM. */
export function createCrl(
  ca: CertificateAuthority,
  revoked: RevokedCertificate[],
  options: CrlOptions = {},
): string {
  const caCert = readCertificatePem(ca.certificatePem, "the CA certificate");
  const caKey = loadPrivateKey(ca.keyPem, ca.passphrase);
  assertCaKey(caCert, caKey);
  const now = (options.clock ?? systemClock).now();
  const next = new Date(now.getTime() + (options.nextUpdateDays ?? 30) * 86_400_000);
  const entries = revoked.map((entry) =>
    seq([integer(serialBytes(entry.serialNumber)), time(entry.revokedAt)]),
  );
  const crlNumber = BigInt(options.crlNumber ?? Math.floor(now.getTime() / 1000));
  const extensions = [seq([oid(OID.cRLNumber), octets(toDer(integer(bigIntBytes(crlNumber))))])];
  if (caCert.subjectKeyIdentifier !== undefined) {
    const aki = toDer(seq([contextPrimitive(0, caCert.subjectKeyIdentifier)]));
    extensions.push(seq([oid(OID.authorityKeyIdentifier), octets(aki)]));
  }
  const tbs = seq([
    integer(Buffer.from([1])),
    algorithm(OID.sha256WithRSA, true),
    parseDer(caCert.subjectDer, "CA subject", "ERR_MALFORMED_CERTIFICATE"),
    time(now),
    time(next),
    ...(entries.length > 0 ? [seq(entries)] : []),
    contextTag(0, [seq(extensions)]),
  ]);
  const signature = sign("sha256", toDer(tbs), caKey);
  return toPem("X509 CRL", toDer(seq([tbs, algorithm(OID.sha256WithRSA, true), bitString(signature)])));
}

/** A CRL as the verifier reads it: the signed bytes and the revoked serials, not yet trusted. */
export interface ParsedCrl {
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  revoked: Map<bigint, Date>;
  /** The cRLNumber extension: a CA never issues a smaller one later. */
  crlNumber: bigint | undefined;
  tbsDer: Buffer;
  signatureAlgorithmOid: string;
  signature: Buffer;
}

const reader: DerReader = new DerReader("ERR_MALFORMED_CRL", "CRL");
const { SEQUENCE } = DerType;

/** Parses a PEM or DER CRL; the caller checks its signature against the issuing CA. */
export function parseCrl(input: string | Uint8Array): ParsedCrl {
  const der = typeof input === "string" ? pemBlocks(input, "X509 CRL")[0] : input;
  if (der === undefined) throw new CustodyError("ERR_MALFORMED_CRL", "no PEM X509 CRL block found");
  const list = parseDer(der, "the CRL", "ERR_MALFORMED_CRL");
  // strict DER, tags and matching algorithms: no byte of a CRL can change without its signature failing
  if (!toDer(list).equals(Buffer.from(der))) reader.fail("it is not DER-encoded");
  const [tbs, outerAlgorithm, signatureValue, ...extra] = reader.universal(list, SEQUENCE, "CertificateList");
  if (extra.length > 0) reader.fail("CertificateList has extra fields");
  const fields = reader.universal(tbs, SEQUENCE, "tbsCertList");
  const offset = fields[0]?.type === DerType.INTEGER ? 1 : 0;
  const algorithmDer = toDer(reader.child(tbs, offset, "signature"));
  reader.universal(outerAlgorithm, SEQUENCE, "signatureAlgorithm");
  if (!algorithmDer.equals(toDer(outerAlgorithm as Asn1)))
    reader.fail("the outer and inner algorithms differ");
  const crlNumber = readCrlExtensions(fields.slice(offset + 3));
  const next = fields[offset + 3];
  const hasNext = next?.type === DerType.UTCTIME || next?.type === DerType.GENERALIZEDTIME;
  const signatureBits = reader.bytes(signatureValue, DerType.BITSTRING, "signature");
  if (signatureBits[0] !== 0) reader.fail("the signature has unused bits");
  return {
    issuerDer: toDer(reader.child(tbs, offset + 1, "issuer")),
    thisUpdate: reader.time(fields[offset + 2], "thisUpdate"),
    nextUpdate: hasNext ? reader.time(next, "nextUpdate") : undefined,
    revoked: readRevoked(fields[offset + (hasNext ? 4 : 3)]),
    crlNumber,
    tbsDer: toDer(tbs as Asn1),
    signatureAlgorithmOid: reader.oid(reader.child(outerAlgorithm, 0, "algorithm"), "algorithm"),
    signature: signatureBits.subarray(1),
  };
}

// RFC 5280 §5.2: a CRL with a critical extension the reader does not understand must not be used
const UNDERSTOOD_CRL_EXTENSIONS = new Set<string>([OID.cRLNumber, OID.authorityKeyIdentifier]);

/** Refuses unknown critical extensions; returns the cRLNumber when present. */
function readCrlExtensions(optional: Asn1[]): bigint | undefined {
  const wrapper = optional.find((node) => reader.isContext(node, 0));
  if (wrapper === undefined) return undefined;
  let crlNumber: bigint | undefined;
  for (const extension of reader.children(reader.child(wrapper, 0, "crlExtensions"), "crlExtensions")) {
    const parts = reader.children(extension, "extension");
    const id = reader.oid(parts[0], "extension id");
    const critical = parts.length === 3 && reader.bytes(parts[1], DerType.BOOLEAN, "critical")[0] !== 0;
    if (critical && !UNDERSTOOD_CRL_EXTENSIONS.has(id)) reader.fail(`unknown critical extension ${id}`);
    if (id === OID.cRLNumber) {
      const value = reader.bytes(parts[parts.length - 1], DerType.OCTETSTRING, "cRLNumber");
      crlNumber = integerValue(
        reader.integerBytes(parseDer(value, "cRLNumber", "ERR_MALFORMED_CRL"), "cRLNumber"),
      );
    }
  }
  return crlNumber;
}

function readRevoked(node: Asn1 | undefined): Map<bigint, Date> {
  const revoked = new Map<bigint, Date>();
  if (node === undefined || node.tagClass !== 0 || node.type !== DerType.SEQUENCE) return revoked;
  for (const entry of reader.children(node, "revokedCertificates")) {
    const serial = integerValue(reader.integerBytes(reader.child(entry, 0, "serial"), "serial"));
    revoked.set(serial, reader.time(reader.child(entry, 1, "revocationDate"), "revocationDate"));
  }
  return revoked;
}

export function integerValue(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  const value = BigInt(`0x${bytes.toString("hex")}`);
  // two's complement: serials are positive, but a hostile CRL may carry anything
  return (bytes[0] ?? 0) & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

function serialBytes(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{1,40}$/.test(hex.replaceAll(":", ""))) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `not a hex serial number: ${JSON.stringify(hex)}`);
  }
  return bigIntBytes(BigInt(`0x${hex.replaceAll(":", "")}`));
}

function bigIntBytes(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex, "hex");
  return (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}
