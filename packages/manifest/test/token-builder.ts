import { createHash, createPrivateKey, sign } from "node:crypto";
import { readCertificatePem } from "../src/certificate.js";
import {
  algorithm,
  contextTag,
  generalizedTime,
  integer,
  OID,
  octets,
  oid,
  parseDer,
  seq,
  setOf,
  sortByDer,
  toDer,
} from "../src/der.js";

/** What a hand-made token says; every field may lie, which is the point of building one by hand. */
export interface HandMadeToken {
  tsaCertPem: string;
  tsaKeyPem: string;
  /** sha256 digest the token claims to cover. */
  digest: Buffer;
  genTime: Date;
  policy?: string;
  nonce?: Buffer;
  /** The certificate the ESS signingCertificateV2 attribute names; the TSA's own by default. */
  essCertPem?: string;
}

/** An RFC 3161 token signed with node:crypto, laid out as openssl lays out its own (tested: openssl accepts one). */
export function buildToken(spec: HandMadeToken): Buffer {
  const tsa = readCertificatePem(spec.tsaCertPem);
  const ess = readCertificatePem(spec.essCertPem ?? spec.tsaCertPem);
  const tstInfo = toDer(
    seq([
      integer(Buffer.from([1])),
      oid(spec.policy ?? "1.3.6.1.4.1.99999.1.1"),
      seq([algorithm(OID.sha256, true), octets(spec.digest)]),
      integer(Buffer.from([0x01, 0x23])),
      generalizedTime(spec.genTime),
      ...(spec.nonce === undefined ? [] : [integer(spec.nonce)]),
    ]),
  );
  const attribute = (id: string, value: ReturnType<typeof seq>) => seq([oid(id), setOf([value])]);
  const essHash = createHash("sha256").update(ess.der).digest();
  const attributes = [
    attribute(OID.contentType, oid(OID.tstInfo)),
    attribute(OID.messageDigest, octets(createHash("sha256").update(tstInfo).digest())),
    attribute(OID.signingCertificateV2, seq([seq([seq([octets(essHash)])])])),
  ];
  const signature = sign("sha256", toDer(setOf(attributes)), createPrivateKey(spec.tsaKeyPem));
  const signerInfo = seq([
    integer(Buffer.from([1])),
    seq([parseDer(tsa.issuerDer, "issuer", "ERR_INTERNAL"), integer(tsa.serialDer)]),
    algorithm(OID.sha256, true),
    contextTag(0, sortByDer(attributes)),
    algorithm(OID.rsaEncryption, true),
    octets(signature),
  ]);
  const signedData = seq([
    integer(Buffer.from([3])),
    setOf([algorithm(OID.sha256, true)]),
    seq([oid(OID.tstInfo), contextTag(0, [octets(tstInfo)])]),
    contextTag(0, [parseDer(tsa.der, "certificate", "ERR_INTERNAL")]),
    setOf([signerInfo]),
  ]);
  return toDer(seq([oid(OID.signedData), contextTag(0, [signedData])]));
}
