import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import {
  createTimestampRequest,
  imprintOf,
  parseTimestampRequest,
  requestTimestamp,
  requestTimestampFromAny,
  type TimestampAuthority,
  verifyTimestampToken,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./fixtures.js";
import { buildToken } from "./token-builder.js";
import { makeTsaPki, ossl, replyTo, startTestTsa, type TestTsa, TSA_POLICY } from "./tsa.js";

let work: { dir: string; remove(): Promise<void> };
let tsa: TestTsa;
let rogue: TestTsa;
let notTsaDir: string;
let authority: TimestampAuthority;
const data = Buffer.from("the bytes a timestamp attests\n");

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

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (cause: unknown) => cause,
  );
  expect(error).toBeInstanceOf(CustodyError);
  expect((error as CustodyError).code).toBe(code);
}

beforeAll(async () => {
  work = await tempDir("tsa");
  for (const name of ["tsa", "rogue", "not-tsa"]) await mkdir(join(work.dir, name));
  tsa = await startTestTsa(join(work.dir, "tsa"), "Test TSA");
  rogue = await startTestTsa(join(work.dir, "rogue"), "Rogue TSA");
  notTsaDir = join(work.dir, "not-tsa");
  await makeTsaPki(notTsaDir, "Mail Signer", "v3_not_tsa");
  authority = { url: tsa.url, trust: { trustAnchors: [tsa.caPem] } };
});

afterAll(async () => {
  await tsa?.close();
  await rogue?.close();
  await work?.remove();
});

describe("the TSA client against openssl ts -reply", () => {
  it("gets a token for the imprint and records the TSA, its policy and the time", async () => {
    const before = Date.now();
    const stamp = await requestTimestamp(imprintOf(data), authority);
    expect(stamp.info.policy).toBe(TSA_POLICY);
    expect(stamp.info.tsa.subject).toBe("CN=Test TSA");
    expect(stamp.info.accuracyMs).toBe(1500.1);
    expect(stamp.info.certificateChain).toHaveLength(2);
    expect(stamp.info.time.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(verifyTimestampToken(stamp.token, imprintOf(data), authority.trust).serialNumber).toBe(
      stamp.info.serialNumber,
    );
  });

  it("makes tokens openssl ts -verify accepts", async () => {
    const stamp = await requestTimestamp(imprintOf(data), authority);
    await writeFile(join(work.dir, "data.bin"), data);
    await writeFile(join(work.dir, "ours.tst"), stamp.token);
    const out = await ossl(
      work.dir,
      "ts",
      "-verify",
      "-data",
      "data.bin",
      "-in",
      "ours.tst",
      "-token_in",
      "-CAfile",
      tsa.caFile,
    );
    expect(out).toContain("Verification: OK");
  });

  it("accepts the tokens openssl makes for openssl's own queries", async () => {
    await writeFile(join(work.dir, "theirs.bin"), data);
    await ossl(work.dir, "ts", "-query", "-data", "theirs.bin", "-sha384", "-cert", "-out", "theirs.tsq");
    const reply = await replyTo(tsa.dir, await readFile(join(work.dir, "theirs.tsq")));
    await writeFile(join(work.dir, "theirs.tsr"), reply);
    await ossl(work.dir, "ts", "-reply", "-in", "theirs.tsr", "-token_out", "-out", "theirs.tst");
    const token = await readFile(join(work.dir, "theirs.tst"));
    const info = verifyTimestampToken(token, imprintOf(data, "sha384"), authority.trust);
    expect(info.hash).toBe("sha384");
  });

  it("sends queries openssl reads as asked: the imprint, a nonce, certReq", async () => {
    const request = createTimestampRequest(imprintOf(data));
    await writeFile(join(work.dir, "ours.tsq"), request.der);
    const text = await ossl(work.dir, "ts", "-query", "-in", "ours.tsq", "-text");
    expect(text).toContain("Hash Algorithm: sha256");
    expect(text).toContain("Certificate required: yes");
    const firstBytes = imprintOf(data).digest.subarray(0, 8).toString("hex");
    expect(text.replace(/[\s:]/g, "").toLowerCase()).toContain(firstBytes);
    expect(parseTimestampRequest(request.der).nonce).toEqual(request.nonce);
  });

  it("takes the first TSA that answers and names every failure when none does", async () => {
    const down = { url: `${tsa.origin}/down`, trust: authority.trust };
    const stamp = await requestTimestampFromAny(imprintOf(data), [down, authority]);
    expect(stamp.url).toBe(tsa.url);
    const error = await requestTimestampFromAny(imprintOf(data), [down]).catch((cause: unknown) => cause);
    expect((error as CustodyError).code).toBe("ERR_BACKEND_UNAVAILABLE");
    expect((error as CustodyError).message).toContain("/down");
  });
});

describe("hostile TSA answers", () => {
  it("refuses an answer for other data (ERR_TIMESTAMP_IMPRINT)", async () => {
    await rejectsWith(
      requestTimestamp(imprintOf(data), { ...authority, url: `${tsa.origin}/other-imprint` }),
      "ERR_TIMESTAMP_IMPRINT",
    );
  });

  it("refuses a replayed answer: same data, another request's nonce (ERR_TIMESTAMP_NONCE)", async () => {
    const replay = { ...authority, url: `${tsa.origin}/replay` };
    await requestTimestamp(imprintOf(data), replay);
    await rejectsWith(requestTimestamp(imprintOf(data), replay), "ERR_TIMESTAMP_NONCE");
  });

  it("refuses a token from a TSA it does not trust (ERR_TIMESTAMP_UNTRUSTED)", async () => {
    await rejectsWith(
      requestTimestamp(imprintOf(data), { url: rogue.url, trust: authority.trust }),
      "ERR_TIMESTAMP_UNTRUSTED",
    );
  });

  it("reports a refusal, an HTTP failure and an unreachable TSA by their codes", async () => {
    await rejectsWith(
      requestTimestamp(imprintOf(data), { ...authority, url: `${tsa.origin}/reject` }),
      "ERR_TIMESTAMP_REFUSED",
    );
    await rejectsWith(
      requestTimestamp(imprintOf(data), { ...authority, url: `${tsa.origin}/down` }),
      "ERR_BACKEND_UNAVAILABLE",
    );
    await rogue.close();
    await rejectsWith(
      requestTimestamp(imprintOf(data), { ...authority, url: rogue.url }),
      "ERR_BACKEND_UNAVAILABLE",
    );
  });
});

describe("verifyTimestampToken on hostile tokens", () => {
  const handMade = async (dir: string, overrides: Partial<Parameters<typeof buildToken>[0]> = {}) =>
    buildToken({
      tsaCertPem: await readFile(join(dir, "tsa.pem"), "utf8"),
      tsaKeyPem: await readFile(join(dir, "tsa.key"), "utf8"),
      digest: imprintOf(data).digest,
      genTime: new Date(),
      ...overrides,
    });

  it("accepts a well-made hand-built token (the control for the cases below)", async () => {
    const token = await handMade(tsa.dir);
    expect(verifyTimestampToken(token, imprintOf(data), authority.trust).tsa.subject).toBe("CN=Test TSA");
    await writeFile(join(work.dir, "hand.tst"), token);
    await writeFile(join(work.dir, "data.bin"), data);
    const out = await ossl(
      work.dir,
      "ts",
      "-verify",
      "-data",
      "data.bin",
      "-in",
      "hand.tst",
      "-token_in",
      "-CAfile",
      tsa.caFile,
    );
    expect(out).toContain("Verification: OK");
  });

  it("accepts the TSA's own certificate as its anchor, and nothing else under that certificate", async () => {
    const token = await handMade(tsa.dir);
    const tsaCert = await readFile(tsa.certFile, "utf8");
    expect(
      verifyTimestampToken(token, imprintOf(data), { trustAnchors: [tsaCert] }).certificateChain,
    ).toHaveLength(1);
    const otherCert = await readFile(join(notTsaDir, "tsa.pem"), "utf8");
    expectCode(
      () => verifyTimestampToken(token, imprintOf(data), { trustAnchors: [otherCert] }),
      "ERR_TIMESTAMP_UNTRUSTED",
    );
  });

  it("refuses a token for other data", async () => {
    const token = await handMade(tsa.dir);
    expectCode(
      () => verifyTimestampToken(token, imprintOf(Buffer.from("other")), authority.trust),
      "ERR_TIMESTAMP_IMPRINT",
    );
  });

  it("refuses a TSA certificate without the timeStamping extended key usage, under a trusted CA", async () => {
    const token = await handMade(notTsaDir);
    const caPem = await readFile(join(notTsaDir, "tsa-ca.pem"), "utf8");
    expectCode(
      () => verifyTimestampToken(token, imprintOf(data), { trustAnchors: [caPem] }),
      "ERR_TIMESTAMP_UNTRUSTED",
    );
  });

  it("refuses a token whose ESS signingCertificate names another certificate", async () => {
    const token = await handMade(tsa.dir, { essCertPem: await readFile(join(notTsaDir, "tsa.pem"), "utf8") });
    expectCode(() => verifyTimestampToken(token, imprintOf(data), authority.trust), "ERR_TIMESTAMP_INVALID");
  });

  it("refuses a token from the future, a policy not accepted, and a changed byte", async () => {
    const future = await handMade(tsa.dir, { genTime: new Date(Date.now() + 3_600_000) });
    expectCode(() => verifyTimestampToken(future, imprintOf(data), authority.trust), "ERR_TIMESTAMP_INVALID");
    const token = await handMade(tsa.dir);
    const policies = { ...authority.trust, policies: ["1.2.3.4"] };
    expectCode(() => verifyTimestampToken(token, imprintOf(data), policies), "ERR_TIMESTAMP_UNTRUSTED");
    const genTime = token.indexOf(Buffer.from(new Date().getUTCFullYear().toString()));
    const changed = Buffer.from(token);
    changed[genTime + 6] = (changed[genTime + 6] ?? 0) ^ 0x01;
    expectCode(
      () => verifyTimestampToken(changed, imprintOf(data), authority.trust),
      "ERR_TIMESTAMP_INVALID",
    );
  });

  it("refuses garbage, truncation and a plain signature in place of a token", async () => {
    const token = await handMade(tsa.dir);
    for (const bad of [randomBytes(64), token.subarray(0, token.length - 1), Buffer.alloc(0)]) {
      expectCode(() => verifyTimestampToken(bad, imprintOf(data), authority.trust), "ERR_TIMESTAMP_INVALID");
    }
  });

  it("refuses a token signed with a key its certificate does not hold", async () => {
    const token = await handMade(tsa.dir, { tsaKeyPem: await readFile(join(notTsaDir, "tsa.key"), "utf8") });
    expectCode(() => verifyTimestampToken(token, imprintOf(data), authority.trust), "ERR_TIMESTAMP_INVALID");
  });

  it("needs trust anchors", () => {
    const digest = createHash("sha256").update(data).digest();
    expectCode(
      () => verifyTimestampToken(Buffer.alloc(1), { hash: "sha256", digest }, { trustAnchors: [] }),
      "ERR_INVALID_ARGUMENT",
    );
  });
});
