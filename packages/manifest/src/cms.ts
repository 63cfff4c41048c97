import { type CertificateFacts, readCertificate } from "./certificate.js";
import { type Asn1, DerReader, DerType, OID, parseDer, toDer } from "./der.js";

/** The parts of a detached CMS SignedData the verifier checks; all bytes as they were signed. */
export interface ParsedSignedData {
  certificates: CertificateFacts[];
  signer: SignerIdentifier;
  digestAlgorithmOid: string;
  signatureAlgorithmOid: string;
  /** The signed attributes re-tagged as a DER SET: the exact bytes the signature covers. */
  signedAttributesDer: Buffer;
  messageDigest: Buffer;
  signingTime: Date | undefined;
  signature: Buffer;
}

export type SignerIdentifier =
  | { kind: "issuerAndSerial"; issuerDer: Buffer; serialDer: Buffer }
  | { kind: "subjectKeyIdentifier"; keyIdentifier: Buffer };

const reader: DerReader = new DerReader("ERR_MALFORMED_SIGNATURE", "signature");

/** Parses (never verifies) a DER ContentInfo holding exactly one detached SignedData and one SignerInfo. */
export function parseSignedData(der: Uint8Array): ParsedSignedData {
  const contentInfo = parseDer(der, "the signature", "ERR_MALFORMED_SIGNATURE");
  if (reader.oid(reader.child(contentInfo, 0, "ContentInfo"), "contentType") !== OID.signedData) {
    reader.fail("it is not a CMS SignedData");
  }
  const wrapper = reader.child(contentInfo, 1, "ContentInfo content");
  if (!reader.isContext(wrapper, 0)) reader.fail("ContentInfo content is not [0]");
  const fields = reader.children(reader.child(wrapper, 0, "SignedData"), "SignedData");
  const encapsulated = reader.children(fields[2], "encapContentInfo");
  if (reader.oid(encapsulated[0], "eContentType") !== OID.data)
    reader.fail("the content type is not id-data");
  if (encapsulated.length !== 1) reader.fail("the signature is not detached: it carries content");
  const certificates = fields.slice(3).find((node) => reader.isContext(node, 0));
  const signerInfos = reader.children(fields[fields.length - 1], "signerInfos");
  if (signerInfos.length !== 1) reader.fail(`expected exactly one SignerInfo, found ${signerInfos.length}`);
  return {
    ...parseSignerInfo(signerInfos[0]),
    // no embedded certificates is legal CMS; the signer is then simply not found (ERR_UNTRUSTED_SIGNER)
    certificates:
      certificates === undefined
        ? []
        : reader.children(certificates, "certificates").map((node) => readCertificate(toDer(node))),
  };
}

function parseSignerInfo(node: Asn1 | undefined): Omit<ParsedSignedData, "certificates"> {
  const fields = reader.children(node, "SignerInfo");
  const signedAttributes = fields[3];
  if (!reader.isContext(signedAttributes, 0)) reader.fail("the SignerInfo has no signed attributes");
  const attributes = readAttributes(reader.children(signedAttributes, "signedAttrs"));
  const set = toDer(signedAttributes);
  set[0] = 0x31; // RFC 5652 §5.4: the signature covers the attributes with an explicit SET OF tag
  return {
    signer: parseSignerIdentifier(fields[1]),
    digestAlgorithmOid: reader.oid(reader.child(fields[2], 0, "digestAlgorithm"), "digestAlgorithm"),
    signatureAlgorithmOid: reader.oid(reader.child(fields[4], 0, "signatureAlgorithm"), "signatureAlgorithm"),
    signedAttributesDer: set,
    signature: reader.bytes(fields[5], DerType.OCTETSTRING, "signature value"),
    ...attributes,
  };
}

function parseSignerIdentifier(node: Asn1 | undefined): SignerIdentifier {
  if (reader.isContext(node, 0)) {
    return {
      kind: "subjectKeyIdentifier",
      keyIdentifier: reader.bytes(asOctets(node), DerType.OCTETSTRING, "sid"),
    };
  }
  return {
    kind: "issuerAndSerial",
    issuerDer: toDer(reader.child(node, 0, "issuer")),
    serialDer: reader.integerBytes(reader.child(node, 1, "serialNumber"), "serialNumber"),
  };
}

// [0] IMPLICIT SubjectKeyIdentifier is primitive: read its bytes as an OCTET STRING
function asOctets(node: Asn1 | undefined): Asn1 | undefined {
  if (node === undefined || typeof node.value !== "string") return undefined;
  return { ...node, tagClass: 0, type: DerType.OCTETSTRING };
}

interface Attributes {
  messageDigest: Buffer;
  signingTime: Date | undefined;
}

function readAttributes(list: Asn1[]): Attributes {
  const seen = new Map<string, Asn1>();
  for (const attribute of list) {
    const id = reader.oid(reader.child(attribute, 0, "attribute"), "attribute type");
    const values = reader.children(reader.child(attribute, 1, "attribute values"), "attribute values");
    // RFC 5652 §11: these three attributes carry exactly one value and appear once
    if (seen.has(id)) reader.fail(`attribute ${id} appears twice`);
    if (values.length !== 1) reader.fail(`attribute ${id} must have one value`);
    seen.set(id, values[0] as Asn1);
  }
  if (reader.oid(seen.get(OID.contentType), "contentType attribute") !== OID.data) {
    reader.fail("the contentType attribute is not id-data");
  }
  const signingTime = seen.get(OID.signingTime);
  return {
    messageDigest: reader.bytes(seen.get(OID.messageDigest), DerType.OCTETSTRING, "messageDigest attribute"),
    signingTime: signingTime === undefined ? undefined : reader.time(signingTime, "signingTime"),
  };
}
