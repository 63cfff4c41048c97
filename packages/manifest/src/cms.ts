import { CustodyError } from "@custody/core";
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
  /** Signed attributes other than contentType, messageDigest and signingTime, by OID: their single value. */
  otherAttributes: ReadonlyMap<string, Asn1>;
  /** The DER of the unsigned id-aa-timeStampToken attribute's token (RFC 3161 Appendix A), if any. */
  timestampToken: Buffer | undefined;
  /** The encapsulated content (a timestamp token's TSTInfo); undefined for a detached signature. */
  content: Buffer | undefined;
}

/** What a SignedData must hold: detached id-data (a package signature) or an encapsulated TSTInfo. */
export interface SignedDataProfile {
  contentType: string;
  detached: boolean;
}

const DETACHED_DATA: SignedDataProfile = { contentType: OID.data, detached: true };

export type SignerIdentifier =
  | { kind: "issuerAndSerial"; issuerDer: Buffer; serialDer: Buffer }
  | { kind: "subjectKeyIdentifier"; keyIdentifier: Buffer };

/** A detached signature with a few certificates is a few KiB; a larger one is refused before parsing. */
export const MAX_SIGNATURE_BYTES = 1024 * 1024;

const reader: DerReader = new DerReader("ERR_MALFORMED_SIGNATURE", "signature");
const { SEQUENCE, SET, NULL } = DerType;

/**
 * Parses (never verifies) a DER ContentInfo holding one detached SignedData with one SignerInfo. The
 * unsigned envelope is read strictly (tags, versions, algorithm parameters), so that no byte of a
 * signature can change without the signature being refused.
 */
export function parseSignedData(
  der: Uint8Array,
  profile: SignedDataProfile = DETACHED_DATA,
): ParsedSignedData {
  if (der.byteLength > MAX_SIGNATURE_BYTES) {
    throw new CustodyError(
      "ERR_SIZE_LIMIT",
      `the signature is ${der.byteLength} bytes; at most ${MAX_SIGNATURE_BYTES} are read`,
    );
  }
  const contentInfo = reader.universal(
    parseDer(der, "the signature", "ERR_MALFORMED_SIGNATURE"),
    SEQUENCE,
    "ContentInfo",
  );
  if (contentInfo.length !== 2 || reader.oid(contentInfo[0], "contentType") !== OID.signedData) {
    reader.fail("it is not a CMS SignedData");
  }
  const wrapper = contentInfo[1];
  if (!reader.isContext(wrapper, 0) || reader.children(wrapper, "content").length !== 1) {
    reader.fail("ContentInfo content is not [0] EXPLICIT");
  }
  const fields = reader.universal(reader.child(wrapper, 0, "SignedData"), SEQUENCE, "SignedData");
  const [version, digestAlgorithms, encapsulated, ...rest] = fields;
  const signerInfos = reader.universal(rest.pop(), SET, "signerInfos");
  if (signerInfos.length !== 1) reader.fail(`expected exactly one SignerInfo, found ${signerInfos.length}`);
  const content = readEncapsulated(encapsulated, profile);
  const signerInfo = parseSignerInfo(signerInfos[0], profile.contentType);
  // RFC 5652 §5.1: version 3 when the SignerInfo is version 3 or the content is not id-data
  const signedDataVersion = signerInfo.signer.kind === "issuerAndSerial" && profile.contentType === OID.data;
  checkVersion(version, signedDataVersion ? "issuerAndSerial" : "subjectKeyIdentifier", "SignedData");
  const digests = reader
    .universal(digestAlgorithms, SET, "digestAlgorithms")
    .map((node) => algorithmOid(node, "digest"));
  if (!digests.includes(signerInfo.digestAlgorithmOid))
    reader.fail("digestAlgorithms does not list the signer's digest");
  return { ...signerInfo, content, certificates: readCertificates(rest) };
}

function readEncapsulated(node: Asn1 | undefined, profile: SignedDataProfile): Buffer | undefined {
  const encapsulated = reader.universal(node, SEQUENCE, "encapContentInfo");
  if (reader.oid(encapsulated[0], "eContentType") !== profile.contentType) {
    reader.fail(`the content type is not ${profile.contentType}`);
  }
  if (profile.detached) {
    if (encapsulated.length !== 1) reader.fail("the signature is not detached: it carries content");
    return undefined;
  }
  const wrapper = encapsulated[1];
  if (encapsulated.length !== 2 || !reader.isContext(wrapper, 0)) reader.fail("the content is missing");
  if (reader.children(wrapper, "eContent").length !== 1) reader.fail("eContent is not [0] EXPLICIT");
  return reader.bytes(reader.child(wrapper, 0, "eContent"), DerType.OCTETSTRING, "eContent");
}

// [0] certificates and [1] crls are optional; nothing else may sit between encapContentInfo and signerInfos
function readCertificates(optional: Asn1[]): CertificateFacts[] {
  let rest = optional;
  const certificates = reader.isContext(rest[0], 0) ? rest[0] : undefined;
  if (certificates !== undefined) rest = rest.slice(1);
  if (reader.isContext(rest[0], 1)) rest = rest.slice(1);
  if (rest.length > 0) reader.fail("SignedData has unexpected fields");
  // no embedded certificates is legal CMS; the signer is then simply not found (ERR_UNTRUSTED_SIGNER)
  if (certificates === undefined) return [];
  return reader.children(certificates, "certificates").map(embeddedCertificate);
}

// a broken certificate inside the signature makes the signature malformed, whatever the certificate's own code
function embeddedCertificate(node: Asn1): CertificateFacts {
  try {
    return readCertificate(toDer(node));
  } catch (cause) {
    throw new CustodyError("ERR_MALFORMED_SIGNATURE", "the signature carries a malformed certificate", {
      cause,
    });
  }
}

// RFC 5652 §5.1 and §5.3: version 1 goes with issuerAndSerialNumber, 3 with subjectKeyIdentifier
function checkVersion(node: Asn1 | undefined, sid: SignerIdentifier["kind"], name: string): void {
  const version = reader.integerBytes(node, `${name} version`);
  const expected = sid === "issuerAndSerial" ? 1 : 3;
  if (version.length !== 1 || version[0] !== expected) reader.fail(`${name} version must be ${expected}`);
}

/** An AlgorithmIdentifier whose parameters are absent or NULL (true of every algorithm we accept). */
function algorithmOid(node: Asn1 | undefined, name: string): string {
  const parts = reader.universal(node, SEQUENCE, `${name} algorithm`);
  if (parts.length > 2) reader.fail(`${name} algorithm has extra fields`);
  if (parts.length === 2 && reader.bytes(parts[1], NULL, `${name} parameters`).length !== 0) {
    reader.fail(`${name} algorithm parameters must be NULL`);
  }
  return reader.oid(parts[0], `${name} algorithm`);
}

function parseSignerInfo(
  node: Asn1 | undefined,
  contentType: string,
): Omit<ParsedSignedData, "certificates" | "content"> {
  const fields = reader.universal(node, SEQUENCE, "SignerInfo");
  const [version, sid, digestAlgorithm, signedAttributes, signatureAlgorithm, signature, unsigned, ...extra] =
    fields;
  if (extra.length > 0 || (unsigned !== undefined && !reader.isContext(unsigned, 1))) {
    reader.fail("SignerInfo has unexpected fields");
  }
  if (!reader.isContext(signedAttributes, 0)) reader.fail("the SignerInfo has no signed attributes");
  const signer = parseSignerIdentifier(sid);
  checkVersion(version, signer.kind, "SignerInfo");
  const attributes = readAttributes(reader.children(signedAttributes, "signedAttrs"), contentType);
  const set = toDer(signedAttributes);
  set[0] = 0x31; // RFC 5652 §5.4: the signature covers the attributes with an explicit SET OF tag
  return {
    signer,
    digestAlgorithmOid: algorithmOid(digestAlgorithm, "digest"),
    signatureAlgorithmOid: algorithmOid(signatureAlgorithm, "signature"),
    signedAttributesDer: set,
    signature: reader.bytes(signature, DerType.OCTETSTRING, "signature value"),
    timestampToken: unsigned === undefined ? undefined : readUnsigned(unsigned),
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
  const parts = reader.universal(node, SEQUENCE, "issuerAndSerialNumber");
  if (parts.length !== 2) reader.fail("issuerAndSerialNumber must have two fields");
  return {
    kind: "issuerAndSerial",
    issuerDer: toDer(reader.child(node, 0, "issuer")),
    serialDer: reader.integerBytes(parts[1], "serialNumber"),
  };
}

// [0] IMPLICIT SubjectKeyIdentifier is primitive: read its bytes as an OCTET STRING
function asOctets(node: Asn1): Asn1 | undefined {
  if (typeof node.value !== "string") return undefined;
  return { ...node, tagClass: 0, type: DerType.OCTETSTRING };
}

interface Attributes {
  messageDigest: Buffer;
  signingTime: Date | undefined;
  otherAttributes: Map<string, Asn1>;
}

function readAttributes(list: Asn1[], contentType: string): Attributes {
  const seen = new Map<string, Asn1>();
  for (const attribute of list) {
    const parts = reader.universal(attribute, SEQUENCE, "attribute");
    if (parts.length !== 2) reader.fail("an attribute must have a type and a value set");
    const id = reader.oid(parts[0], "attribute type");
    const values = reader.universal(parts[1], SET, "attribute values");
    // RFC 5652 §11: contentType, messageDigest and signingTime appear once with exactly one value
    if (seen.has(id)) reader.fail(`attribute ${id} appears twice`);
    if (values.length === 0 || (values.length !== 1 && isSingleValued(id)))
      reader.fail(`attribute ${id} must have one value`);
    seen.set(id, values[0] as Asn1);
  }
  if (reader.oid(seen.get(OID.contentType), "contentType attribute") !== contentType) {
    reader.fail(`the contentType attribute is not ${contentType}`);
  }
  const signingTime = seen.get(OID.signingTime);
  const otherAttributes = new Map(seen);
  for (const id of [OID.contentType, OID.messageDigest, OID.signingTime]) otherAttributes.delete(id);
  return {
    messageDigest: reader.bytes(seen.get(OID.messageDigest), DerType.OCTETSTRING, "messageDigest attribute"),
    signingTime: signingTime === undefined ? undefined : reader.time(signingTime, "signingTime"),
    otherAttributes,
  };
}

/**
 * The unsigned attributes may hold one id-aa-timeStampToken with one token: anything else would be bytes
 * anyone can add to a signature without it being refused, so it is refused.
 */
function readUnsigned(unsigned: Asn1): Buffer {
  const list = reader.children(unsigned, "unsignedAttrs");
  if (list.length !== 1) reader.fail("the unsigned attributes must be exactly one timestamp token");
  const parts = reader.universal(list[0], SEQUENCE, "unsigned attribute");
  if (parts.length !== 2 || reader.oid(parts[0], "unsigned attribute type") !== OID.timeStampToken) {
    reader.fail("the only unsigned attribute accepted is id-aa-timeStampToken");
  }
  const values = reader.universal(parts[1], SET, "timeStampToken values");
  if (values.length !== 1) reader.fail("the timestamp attribute must hold exactly one token");
  return toDer(values[0] as Asn1);
}

function isSingleValued(id: string): boolean {
  return id === OID.contentType || id === OID.messageDigest || id === OID.signingTime;
}
