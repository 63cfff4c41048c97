import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, fixedClock } from "@custody/core";
import {
  addTimestampToken,
  createKeySigner,
  issueCertificate,
  requestTimestamp,
  signatureTimestampImprint,
  signatureTimestampToken,
  type TrustOptions,
  verifyDetached,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSignedData } from "../src/cms.js";
import { type Asn1, contextTag, OID, oid, parseDer, seq, setOf, toDer } from "../src/der.js";
import { createTestPki, PKI_EPOCH, type TestPki, tempDir } from "./fixtures.js";
import { ossl, startTestTsa, type TestTsa } from "./tsa.js";

let work: { dir: string; remove(): Promise<void> };
let tsa: TestTsa;
let pki: TestPki;
const content = Buffer.from('{"items":[],"version":"custody.manifest/v1"}\n');

function expectCode(action: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CustodyError);
  expect((thrown as CustodyError).code).toBe(code);
}

function childrenOf(node: Asn1 | undefined): Asn1[] {
  if (node === undefined || !Array.isArray(node.value)) throw new Error("unexpected signature shape");
  return node.value;
}

async function stamped(signature: Buffer): Promise<Buffer> {
  const stamp = await requestTimestamp(signatureTimestampImprint(signature), {
    url: tsa.url,
    trust: { trustAnchors: [tsa.caPem] },
  });
  return addTimestampToken(signature, stamp.token);
}

beforeAll(async () => {
  work = await tempDir("sigtsa");
  await mkdir(join(work.dir, "tsa"));
  tsa = await startTestTsa(join(work.dir, "tsa"));
  pki = await createTestPki();
});

afterAll(async () => {
  await tsa?.close();
  await work?.remove();
});

describe("a timestamp token in the CMS SignerInfo (id-aa-timeStampToken)", () => {
  it("verifies with the trusted time, and openssl checks both the signature and the token", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    const signature = await stamped(await signer.sign(content));
    const trust: TrustOptions = {
      trustAnchors: [pki.ca.certificatePem],
      timestamp: { trustAnchors: [tsa.caPem] },
    };
    const info = verifyDetached(content, signature, trust);
    expect(info.timestampStatus).toBe("verified");
    expect(info.timestamp?.tsa.subject).toBe("CN=Test TSA");
    expect(
      verifyDetached(content, signature, { trustAnchors: [pki.ca.certificatePem] }).timestampStatus,
    ).toBe("unchecked");
    await writeFile(join(work.dir, "content.json"), content);
    await writeFile(join(work.dir, "content.json.p7s"), signature);
    await writeFile(join(work.dir, "ca.pem"), pki.ca.certificatePem);
    await ossl(
      work.dir,
      "cms",
      "-verify",
      "-binary",
      "-inform",
      "DER",
      "-in",
      "content.json.p7s",
      "-content",
      "content.json",
      "-CAfile",
      "ca.pem",
      "-purpose",
      "any",
      "-out",
      "/dev/null",
    );
    await writeFile(join(work.dir, "signature-value.bin"), parseSignedData(signature).signature);
    await writeFile(join(work.dir, "token.tst"), signatureTimestampToken(signature) ?? Buffer.alloc(0));
    const out = await ossl(
      work.dir,
      "ts",
      "-verify",
      "-data",
      "signature-value.bin",
      "-in",
      "token.tst",
      "-token_in",
      "-CAfile",
      tsa.caFile,
    );
    expect(out).toContain("Verification: OK");
  });

  it("keeps a signature verifiable after its certificate expired, and only with the token", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    const signature = await stamped(await signer.sign(content));
    const afterExpiry = fixedClock("2031-06-01T00:00:00.000Z");
    const base = { trustAnchors: [pki.ca.certificatePem], clock: afterExpiry };
    expectCode(() => verifyDetached(content, signature, base), "ERR_CERT_EXPIRED");
    const info = verifyDetached(content, signature, { ...base, timestamp: { trustAnchors: [tsa.caPem] } });
    expect(info.timestamp?.time.getTime()).toBeLessThan(Date.now() + 60_000);
  });

  it("refuses a token whose time lies outside the signer certificate's validity", async () => {
    const shortLived = await issueCertificate(pki.ca, {
      commonName: "collector-short",
      usage: "collector",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 30,
    });
    const signer = createKeySigner({
      keyPem: shortLived.keyPem,
      certificatePem: shortLived.certificatePem,
      clock: fixedClock("2020-01-10T00:00:00.000Z"),
    });
    const signature = await stamped(await signer.sign(content));
    const trust = { trustAnchors: [pki.ca.certificatePem], timestamp: { trustAnchors: [tsa.caPem] } };
    expectCode(() => verifyDetached(content, signature, trust), "ERR_TIMESTAMP_OUTSIDE_VALIDITY");
  });

  it("refuses a token taken for another signature, a missing token when one is required, and a second token", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    const plain = await signer.sign(content);
    const other = await stamped(await signer.sign(Buffer.from("other content")));
    const moved = addTimestampToken(plain, signatureTimestampToken(other) ?? Buffer.alloc(0));
    const trust = { trustAnchors: [pki.ca.certificatePem], timestamp: { trustAnchors: [tsa.caPem] } };
    expectCode(() => verifyDetached(content, moved, trust), "ERR_TIMESTAMP_IMPRINT");
    const required = { ...trust, timestamp: { ...trust.timestamp, required: true } };
    expectCode(() => verifyDetached(content, plain, required), "ERR_TIMESTAMP_MISSING");
    expect(verifyDetached(content, plain, trust).timestampStatus).toBe("absent");
    const once = await stamped(plain);
    expectCode(
      () => addTimestampToken(once, signatureTimestampToken(once) ?? Buffer.alloc(0)),
      "ERR_ALREADY_EXISTS",
    );
  });

  it("refuses any unsigned attribute but one timestamp token: bytes anyone could add are not accepted", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    const plain = await signer.sign(content);
    const token = signatureTimestampToken(await stamped(plain)) ?? Buffer.alloc(0);
    const withAttribute = (attribute: ReturnType<typeof seq>) => {
      const root = parseDer(plain, "signature", "ERR_INTERNAL");
      // ContentInfo / [0] / SignedData / signerInfos (last) / SignerInfo
      const fields = childrenOf(childrenOf(childrenOf(root)[1])[0]);
      childrenOf(childrenOf(fields[fields.length - 1])[0]).push(contextTag(1, [attribute]));
      return toDer(root);
    };
    const tokenNode = () => parseDer(token, "token", "ERR_INTERNAL");
    const foreign = withAttribute(seq([oid("1.2.840.113549.1.9.6"), setOf([tokenNode()])]));
    expectCode(
      () => verifyDetached(content, foreign, { trustAnchors: [pki.ca.certificatePem] }),
      "ERR_MALFORMED_SIGNATURE",
    );
    const twoTokens = withAttribute(seq([oid(OID.timeStampToken), setOf([tokenNode(), tokenNode()])]));
    expectCode(
      () => verifyDetached(content, twoTokens, { trustAnchors: [pki.ca.certificatePem] }),
      "ERR_MALFORMED_SIGNATURE",
    );
    const one = withAttribute(seq([oid(OID.timeStampToken), setOf([tokenNode()])]));
    const trust = { trustAnchors: [pki.ca.certificatePem], timestamp: { trustAnchors: [tsa.caPem] } };
    expect(verifyDetached(content, one, trust).timestampStatus).toBe("verified");
  });

  it("refuses a token from a TSA that is not configured, though the signature itself is sound", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    const signature = await stamped(await signer.sign(content));
    const trust = {
      trustAnchors: [pki.ca.certificatePem],
      timestamp: { trustAnchors: [pki.ca.certificatePem] },
    };
    expectCode(() => verifyDetached(content, signature, trust), "ERR_TIMESTAMP_UNTRUSTED");
  });

  it("refuses a signer who claims a time after the trusted time", async () => {
    const later = new Date(Date.now() + 86_400_000);
    const signer = createKeySigner({
      keyPem: pki.signer.keyPem,
      certificatePem: pki.signer.certificatePem,
      clock: fixedClock(later.toISOString()),
    });
    const signature = await stamped(await signer.sign(content));
    const trust = {
      trustAnchors: [pki.ca.certificatePem],
      timestamp: { trustAnchors: [tsa.caPem] },
      clock: fixedClock(new Date(later.getTime() + 60_000).toISOString()),
    };
    expectCode(() => verifyDetached(content, signature, trust), "ERR_TIMESTAMP_INVALID");
  });
});
