import { CustodyError } from "@custody/core";
import { type Asn1, DerReader, DerType, parseDer } from "../der.js";
import { hashOfOid, type MessageImprint } from "./imprint.js";

/** RFC 3161 §2.4.2 TSTInfo: what the TSA signed. */
export interface TstInfo {
  policy: string;
  imprint: MessageImprint;
  /** Lower-case hex of the serial number's DER integer bytes. */
  serialNumber: string;
  genTime: Date;
  /** The TSA's stated accuracy, in milliseconds; undefined when it states none. */
  accuracyMs: number | undefined;
  ordering: boolean;
  /** The nonce's DER integer bytes, echoed from the request. */
  nonce: Buffer | undefined;
}

const reader: DerReader = new DerReader("ERR_TIMESTAMP_INVALID", "TSTInfo");
const { SEQUENCE, INTEGER, BOOLEAN, NULL } = DerType;

export function parseTstInfo(der: Buffer): TstInfo {
  const root = parseDer(der, "the TSTInfo", "ERR_TIMESTAMP_INVALID");
  const [version, policy, imprint, serial, genTime, ...optional] = reader.universal(
    root,
    SEQUENCE,
    "TSTInfo",
  );
  if (smallInteger(version, "version") !== 1) reader.fail("version must be 1");
  if (genTime?.type !== DerType.GENERALIZEDTIME) reader.fail("genTime must be a GeneralizedTime");
  const rest = readOptional(optional);
  return {
    policy: reader.oid(policy, "policy"),
    imprint: readImprint(imprint),
    serialNumber: reader.integerBytes(serial, "serialNumber").toString("hex"),
    genTime: reader.time(genTime, "genTime"),
    ...rest,
  };
}

export function readImprint(node: Asn1 | undefined): MessageImprint {
  const [algorithm, digest, ...extra] = reader.universal(node, SEQUENCE, "messageImprint");
  const parts = reader.universal(algorithm, SEQUENCE, "messageImprint hash algorithm");
  if (extra.length > 0 || parts.length > 2) reader.fail("messageImprint has extra fields");
  if (parts.length === 2 && reader.bytes(parts[1], NULL, "hash parameters").length !== 0) {
    reader.fail("hash algorithm parameters must be NULL");
  }
  const hash = hashOfOid(reader.oid(parts[0], "hash algorithm"));
  return { hash, digest: reader.bytes(digest, DerType.OCTETSTRING, "hashedMessage") };
}

type OptionalFields = Pick<TstInfo, "accuracyMs" | "ordering" | "nonce">;

// accuracy, ordering, nonce, [0] tsa, [1] extensions: each at most once, in this order
function readOptional(nodes: Asn1[]): OptionalFields {
  const fields: OptionalFields = { accuracyMs: undefined, ordering: false, nonce: undefined };
  let rest = nodes;
  const take = (match: (node: Asn1) => boolean): Asn1 | undefined => {
    const [first, ...others] = rest;
    if (first === undefined || !match(first)) return undefined;
    rest = others;
    return first;
  };
  const accuracy = take((node) => node.tagClass === 0 && node.type === SEQUENCE);
  if (accuracy !== undefined) fields.accuracyMs = readAccuracy(accuracy);
  const ordering = take((node) => node.tagClass === 0 && node.type === BOOLEAN);
  if (ordering !== undefined) fields.ordering = reader.bytes(ordering, BOOLEAN, "ordering")[0] !== 0;
  const nonce = take((node) => node.tagClass === 0 && node.type === INTEGER);
  if (nonce !== undefined) fields.nonce = reader.integerBytes(nonce, "nonce");
  take((node) => reader.isContext(node, 0));
  const extensions = take((node) => reader.isContext(node, 1));
  if (extensions !== undefined) refuseCriticalExtensions(extensions);
  if (rest.length > 0) reader.fail("TSTInfo has unexpected fields");
  return fields;
}

function readAccuracy(node: Asn1): number {
  let total = 0;
  for (const part of reader.children(node, "accuracy")) {
    const value = Buffer.from(String(part.value), "binary");
    if (typeof part.value !== "string" || value.length === 0 || value.length > 4) reader.fail("bad accuracy");
    const amount = value.readUIntBE(0, value.length);
    if (part.tagClass === 0 && part.type === INTEGER) total += amount * 1000;
    else if (reader.isContext(part, 0)) total += amount;
    else if (reader.isContext(part, 1)) total += amount / 1000;
    else reader.fail("accuracy has an unknown field");
  }
  return total;
}

// this verifier understands no TSTInfo extension, so a critical one cannot be honoured
function refuseCriticalExtensions(wrapper: Asn1): void {
  for (const extension of reader.children(wrapper, "extensions")) {
    const parts = reader.children(extension, "extension");
    if (parts.length === 3 && reader.bytes(parts[1], BOOLEAN, "critical")[0] !== 0) {
      throw new CustodyError("ERR_TIMESTAMP_INVALID", "the TSTInfo has a critical extension", {
        details: { extension: reader.oid(parts[0], "extension id") },
      });
    }
  }
}

function smallInteger(node: Asn1 | undefined, name: string): number {
  const bytes = reader.integerBytes(node, name);
  if (bytes.length !== 1) reader.fail(`${name} is out of range`);
  return bytes[0] ?? -1;
}
