import { createHash } from "node:crypto";
import { CustodyError } from "@custody/core";
import type { CertificateFacts } from "../certificate.js";
import { type ParsedSignedData, parseSignedData } from "../cms.js";
import { type Asn1, DerReader, DerType, OID } from "../der.js";
import { parseTstInfo, type TstInfo } from "./tst-info.js";

/** A TimeStampToken (RFC 3161 §2.4.2): a CMS SignedData whose content is a TSTInfo. */
export interface ParsedTimestampToken {
  signed: ParsedSignedData;
  tstInfo: TstInfo;
}

const reader: DerReader = new DerReader("ERR_TIMESTAMP_INVALID", "timestamp token");

export function parseTimestampToken(der: Uint8Array): ParsedTimestampToken {
  let signed: ParsedSignedData;
  try {
    signed = parseSignedData(der, { contentType: OID.tstInfo, detached: false });
  } catch (cause) {
    if (cause instanceof CustodyError && cause.code === "ERR_ALGORITHM_NOT_ALLOWED") throw cause;
    throw new CustodyError("ERR_TIMESTAMP_INVALID", "the timestamp token is not a valid RFC 3161 token", {
      cause,
    });
  }
  if (signed.content === undefined) reader.fail("it carries no TSTInfo");
  if (signed.timestampToken !== undefined) reader.fail("a token must not carry unsigned attributes");
  return { signed, tstInfo: parseTstInfo(signed.content) };
}

/**
 * RFC 3161 §2.4.1 / RFC 5816: the ESS signingCertificate(V2) attribute names the TSA certificate by hash,
 * so a certificate swapped into the token (same key, other name or usage) is refused.
 */
export function checkSigningCertificateAttribute(signed: ParsedSignedData, tsa: CertificateFacts): void {
  const v2 = signed.otherAttributes.get(OID.signingCertificateV2);
  const v1 = signed.otherAttributes.get(OID.signingCertificate);
  if ((v1 === undefined) === (v2 === undefined)) {
    reader.fail("it must carry exactly one ESS signingCertificate or signingCertificateV2 attribute");
  }
  const certIds = reader.universal(reader.child(v2 ?? v1, 0, "certs"), DerType.SEQUENCE, "certs");
  const first = reader.universal(certIds[0], DerType.SEQUENCE, "ESSCertID");
  const { hash, certHash } = v2 === undefined ? { hash: "sha1", certHash: first[0] } : essCertIdV2(first);
  const expected = createHash(hash).update(tsa.der).digest();
  if (!reader.bytes(certHash, DerType.OCTETSTRING, "certHash").equals(expected)) {
    throw new CustodyError(
      "ERR_TIMESTAMP_INVALID",
      "the token's signingCertificate does not name its signer",
      {
        details: { subject: tsa.x509.subject },
      },
    );
  }
}

const ESS_HASHES: Record<string, string> = {
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};

// ESSCertIDv2: hashAlgorithm DEFAULT sha256 (absent when it is sha256), certHash, issuerSerial OPTIONAL
function essCertIdV2(fields: Asn1[]): { hash: string; certHash: Asn1 | undefined } {
  if (fields[0]?.type !== DerType.SEQUENCE) return { hash: "sha256", certHash: fields[0] };
  const oid = reader.oid(reader.child(fields[0], 0, "hashAlgorithm"), "hashAlgorithm");
  const hash = ESS_HASHES[oid];
  if (hash === undefined) reader.fail(`ESSCertIDv2 hash ${oid} is not allowed`);
  return { hash, certHash: fields[1] };
}
