import { randomBytes } from "node:crypto";
import { CustodyError } from "@custody/core";
import {
  type Asn1,
  algorithm,
  boolean,
  DerReader,
  DerType,
  integer,
  octets,
  oid,
  parseDer,
  seq,
  toDer,
} from "../der.js";
import { assertImprint, type MessageImprint, TIMESTAMP_HASH_OIDS } from "./imprint.js";
import { readImprint } from "./tst-info.js";

/** An RFC 3161 TimeStampReq, kept with what the answer must echo. */
export interface TimestampRequest {
  der: Buffer;
  imprint: MessageImprint;
  /** The nonce's DER integer bytes: the answer must carry exactly these, so a replayed answer is refused. */
  nonce: Buffer;
  policy: string | undefined;
}

/** A TimeStampReq for `imprint`, with a fresh 64-bit nonce and certReq set (the token carries the TSA's certificate). */
export function createTimestampRequest(
  imprint: MessageImprint,
  options: { policy?: string } = {},
): TimestampRequest {
  assertImprint(imprint);
  const nonce = randomNonce();
  const fields: Asn1[] = [
    integer(Buffer.from([1])),
    seq([algorithm(TIMESTAMP_HASH_OIDS[imprint.hash], true), octets(imprint.digest)]),
    ...(options.policy === undefined ? [] : [oid(options.policy)]),
    integer(nonce),
    boolean(true),
  ];
  return { der: toDer(seq(fields)), imprint, nonce, policy: options.policy };
}

// positive and minimal: the first byte is 0x01..0x7f, so the DER integer is exactly these 8 bytes
function randomNonce(): Buffer {
  const nonce = randomBytes(8);
  nonce[0] = ((nonce[0] ?? 0) & 0x7f) | 0x01;
  return nonce;
}

const reader: DerReader = new DerReader("ERR_INVALID_ARGUMENT", "timestamp request");

/** Reads a TimeStampReq (e.g. one made by `openssl ts -query`); only what a TSA answers to. */
export function parseTimestampRequest(der: Uint8Array): Omit<TimestampRequest, "der" | "nonce"> & {
  nonce: Buffer | undefined;
} {
  const [version, imprint, ...rest] = reader.universal(
    parseDer(der, "the timestamp request", "ERR_INVALID_ARGUMENT"),
    DerType.SEQUENCE,
    "TimeStampReq",
  );
  if (reader.integerBytes(version, "version")[0] !== 1) reader.fail("version must be 1");
  const policy = rest[0]?.type === DerType.OID ? reader.oid(rest.shift(), "reqPolicy") : undefined;
  const nonce = rest[0]?.type === DerType.INTEGER ? reader.integerBytes(rest.shift(), "nonce") : undefined;
  try {
    return { imprint: readImprint(imprint), policy, nonce };
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the timestamp request has a bad message imprint", {
      cause,
    });
  }
}
