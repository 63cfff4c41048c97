import { CustodyError, type ErrorCode } from "@custody/core";
import type forge from "node-forge";
import { forgeDerCodec } from "./forge.js";

// forge.asn1 is used only as a DER parser and encoder; every cryptographic operation is node:crypto.
const codec = forgeDerCodec();
const { asn1 } = codec;
export type Asn1 = forge.asn1.Asn1;

export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256: "2.16.840.1.101.3.4.2.1",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  cRLNumber: "2.5.29.20",
  authorityKeyIdentifier: "2.5.29.35",
  extendedKeyUsage: "2.5.29.37",
  // RFC 3161 and RFC 5035
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  timeStampToken: "1.2.840.113549.1.9.16.2.14",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  sha1: "1.3.14.3.2.26",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
} as const;

type FromDer = (bytes: forge.util.ByteStringBuffer, options: object) => Asn1;

/** Parses one complete DER value; anything left over, truncated or mis-tagged is `code`. */
export function parseDer(bytes: Uint8Array, what: string, code: ErrorCode): Asn1 {
  try {
    const buffer = codec.util.createBuffer(Buffer.from(bytes).toString("binary"));
    // decodeBitStrings off: a BIT STRING stays opaque bytes, so re-encoding reproduces the input exactly
    return (asn1.fromDer as unknown as FromDer)(buffer, { parseAllBytes: true, decodeBitStrings: false });
  } catch (cause) {
    throw new CustodyError(code, `${what} is not valid DER`, { cause });
  }
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), "binary");
}

export function seq(children: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, children);
}

/** A DER SET OF: members sorted by their encodings, as X.690 §11.6 requires. */
export function setOf(children: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, sortByDer(children));
}

export function sortByDer(children: Asn1[]): Asn1[] {
  return children
    .map((node) => ({ node, der: toDer(node) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map(({ node }) => node);
}

export function oid(dotted: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, encodeOid(dotted).toString("binary"));
}

// forge's OID codec stops at 32-bit arcs; the custody arc (2.25.<UUID>) is a 128-bit arc, so BigInt here
function encodeOid(dotted: string): Buffer {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new Error(`not an OID: ${dotted}`);
  const arcs = dotted.split(".").map((arc) => BigInt(arc));
  const [first = 0n, second = 0n, ...rest] = arcs;
  if (first < 2n && second > 39n) throw new Error(`not an OID: ${dotted}`);
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const group = [Number(arc & 0x7fn)];
    for (let value = arc >> 7n; value > 0n; value >>= 7n) group.unshift(Number(value & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return Buffer.from(bytes);
}

function decodeOid(bytes: Buffer): string | undefined {
  const arcs: bigint[] = [];
  let value = 0n;
  for (const [index, byte] of bytes.entries()) {
    // a leading 0x80 would give one OID two encodings
    if (value === 0n && byte === 0x80) return undefined;
    value = (value << 7n) | BigInt(byte & 0x7f);
    if (byte & 0x80) continue;
    if (arcs.length === 0) arcs.push(value < 80n ? value / 40n : 2n, value < 80n ? value % 40n : value - 80n);
    else arcs.push(value);
    value = 0n;
    if (index === bytes.length - 1) return arcs.join(".");
  }
  return undefined; // empty, or the last arc is unterminated
}

export function integer(bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes.toString("binary"));
}

export function boolean(value: boolean): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, value ? "\u00ff" : "\u0000");
}

export function generalizedTime(date: Date): Asn1 {
  return asn1.create(
    asn1.Class.UNIVERSAL,
    asn1.Type.GENERALIZEDTIME,
    false,
    asn1.dateToGeneralizedTime(date),
  );
}

export function octets(bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString("binary"));
}

export function nullValue(): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, "");
}

export function bitString(bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${bytes.toString("binary")}`);
}

export function contextPrimitive(tag: number, bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, bytes.toString("binary"));
}

export function contextTag(tag: number, children: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, children);
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 asks. */
export function time(date: Date): Asn1 {
  const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return seconds.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(seconds))
    : asn1.create(
        asn1.Class.UNIVERSAL,
        asn1.Type.GENERALIZEDTIME,
        false,
        asn1.dateToGeneralizedTime(seconds),
      );
}

export function algorithm(dotted: string, withNull: boolean): Asn1 {
  return seq(withNull ? [oid(dotted), nullValue()] : [oid(dotted)]);
}

/** Structural reads that throw `code` instead of returning undefined, so parsers stay linear. */
export class DerReader {
  constructor(
    private readonly code: ErrorCode,
    private readonly what: string,
  ) {}

  fail(message: string): never {
    throw new CustodyError(this.code, `${this.what}: ${message}`);
  }

  children(node: Asn1 | undefined, name: string): Asn1[] {
    if (node === undefined || !Array.isArray(node.value)) this.fail(`${name} is missing or not constructed`);
    return node.value;
  }

  /** The children of a universal SEQUENCE or SET; any other tag is refused, so no tag can be swapped unnoticed. */
  universal(node: Asn1 | undefined, type: number, name: string): Asn1[] {
    if (node?.tagClass !== asn1.Class.UNIVERSAL || node.type !== type) this.fail(`${name} has the wrong tag`);
    return this.children(node, name);
  }

  child(node: Asn1 | undefined, index: number, name: string): Asn1 {
    const found = this.children(node, name)[index];
    if (found === undefined) this.fail(`${name} has no element ${index}`);
    return found;
  }

  bytes(node: Asn1 | undefined, type: number, name: string): Buffer {
    if (node === undefined || node.tagClass !== asn1.Class.UNIVERSAL || node.type !== type) {
      this.fail(`${name} has the wrong type`);
    }
    if (typeof node.value !== "string") this.fail(`${name} is constructed`);
    return Buffer.from(node.value, "binary");
  }

  oid(node: Asn1 | undefined, name: string): string {
    const dotted = decodeOid(this.bytes(node, asn1.Type.OID, name));
    if (dotted === undefined) this.fail(`${name} is not a valid OID`);
    return dotted;
  }

  integerBytes(node: Asn1 | undefined, name: string): Buffer {
    return this.bytes(node, asn1.Type.INTEGER, name);
  }

  time(node: Asn1 | undefined, name: string): Date {
    const isUtc = node?.type === asn1.Type.UTCTIME;
    const type = isUtc ? asn1.Type.UTCTIME : asn1.Type.GENERALIZEDTIME;
    const text = this.bytes(node, type, name).toString("latin1");
    const date = isUtc ? asn1.utcTimeToDate(text) : asn1.generalizedTimeToDate(text);
    if (Number.isNaN(date.getTime())) this.fail(`${name} is not a valid time`);
    return date;
  }

  isContext(node: Asn1 | undefined, tag: number): node is Asn1 {
    return node !== undefined && node.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === tag;
  }
}

export const DerType = asn1.Type;

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block of `type` in `text`, decoded; a chain file holds several. */
export function pemBlocks(text: string, type: string): Buffer[] {
  const blocks: Buffer[] = [];
  for (const match of text.matchAll(PEM)) {
    if (match[1] === type) blocks.push(Buffer.from((match[2] ?? "").replace(/\s+/g, ""), "base64"));
  }
  return blocks;
}

export function toPem(type: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}
