import { CustodyError } from "@custody/core";
import { parseSignedData } from "../cms.js";
import { type Asn1, contextTag, OID, oid, parseDer, seq, setOf, toDer } from "../der.js";
import { imprintOf, type MessageImprint } from "./imprint.js";

/**
 * What a signature's timestamp covers (RFC 3161 Appendix A): the SignerInfo's signature value, so the
 * token proves the signature existed at its time.
 */
export function signatureTimestampImprint(signatureDer: Uint8Array): MessageImprint {
  return imprintOf(parseSignedData(signatureDer).signature);
}

/** The token in a signature's unsigned attributes, if any (not verified here). */
export function signatureTimestampToken(signatureDer: Uint8Array): Buffer | undefined {
  return parseSignedData(signatureDer).timestampToken;
}

/**
 * The same signature with `tokenDer` as its id-aa-timeStampToken unsigned attribute; every signed byte is
 * unchanged, so the signature still verifies (also with `openssl cms -verify`). A signature that already
 * carries a token is ERR_ALREADY_EXISTS: a token is never replaced.
 */
export function addTimestampToken(signatureDer: Uint8Array, tokenDer: Uint8Array): Buffer {
  if (parseSignedData(signatureDer).timestampToken !== undefined) {
    throw new CustodyError("ERR_ALREADY_EXISTS", "the signature already carries a timestamp token");
  }
  const root = parseDer(signatureDer, "the signature", "ERR_MALFORMED_SIGNATURE");
  const signerInfo = signerInfoOf(root);
  const token = parseDer(tokenDer, "the timestamp token", "ERR_TIMESTAMP_INVALID");
  signerInfo.push(contextTag(1, [seq([oid(OID.timeStampToken), setOf([token])])]));
  return toDer(root);
}

// parseSignedData has already checked the shape: ContentInfo / [0] / SignedData / ... / SET { SignerInfo }
function signerInfoOf(root: Asn1): Asn1[] {
  const signedData = children(children(children(root)[1])[0]);
  const signerInfos = children(signedData[signedData.length - 1]);
  return children(signerInfos[0]);
}

function children(node: Asn1 | undefined): Asn1[] {
  if (node === undefined || !Array.isArray(node.value))
    throw new CustodyError("ERR_MALFORMED_SIGNATURE", "unexpected signature shape");
  return node.value;
}
