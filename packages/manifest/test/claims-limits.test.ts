import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, fixedClock } from "@custody/core";
import { createKeySigner, initRevocationList, revokeCertificates, verifyDetached } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, openssl, type TestPki, tempDir } from "./fixtures.js";

// Limits the README states, each played for real: an oversized signature, a signer revoked after it
// signed, and an RSA-PSS signature from openssl.
const content = Buffer.from('{"version":"custody.manifest/v1"}');
let pki: TestPki;
let work: { dir: string; remove(): Promise<void> };

beforeAll(async () => {
  pki = await createTestPki();
  work = await tempDir("claims");
});
afterAll(() => work.remove());

function thrown(action: () => unknown): CustodyError {
  try {
    action();
  } catch (error) {
    if (error instanceof CustodyError) return error;
    throw error;
  }
  throw new Error("expected a CustodyError, nothing was thrown");
}

describe("verifyDetached limits", () => {
  it("refuses a signature over 1 MiB with ERR_SIZE_LIMIT", async () => {
    const signature = await createKeySigner({
      keyPem: pki.signer.keyPem,
      certificatePem: pki.signer.certificatePem,
    }).sign(content);
    const trust = { trustAnchors: [pki.ca.certificatePem] };
    expect(verifyDetached(content, signature, trust).signer).toBeDefined();
    const padded = Buffer.concat([signature, Buffer.alloc(1024 * 1024 + 1 - signature.length)]);
    expect(thrown(() => verifyDetached(content, padded, trust)).code).toBe("ERR_SIZE_LIMIT");
  });

  it("refuses a signer revoked after it signed, also at its signing time, and says so", async () => {
    const signer = createKeySigner({
      keyPem: pki.signer.keyPem,
      certificatePem: pki.signer.certificatePem,
      clock: fixedClock("2021-01-01T00:00:00.000Z"),
    });
    const signature = await signer.sign(content);
    const crlPath = join(work.dir, "crl.pem");
    await initRevocationList({ crlPath, ca: pki.ca, clock: fixedClock("2020-06-01T00:00:00.000Z") });
    const trust = {
      trustAnchors: [pki.ca.certificatePem],
      clock: fixedClock("2023-01-01T00:00:00.000Z"),
      validity: "signing-time" as const,
    };
    expect(
      verifyDetached(content, signature, { ...trust, crls: [await readFile(crlPath, "utf8")] }),
    ).toBeDefined();
    await revokeCertificates({
      crlPath,
      ca: pki.ca,
      entries: [{ serialNumber: pki.signer.serialNumber }],
      clock: fixedClock("2022-01-01T00:00:00.000Z"),
    });
    const crls = [await readFile(crlPath, "utf8")];
    const error = thrown(() => verifyDetached(content, signature, { ...trust, crls }));
    expect(error.code).toBe("ERR_CERT_REVOKED");
    expect(error.details).toMatchObject({ revokedAfterSigning: true });
    const byDefault = thrown(() =>
      verifyDetached(content, signature, { ...trust, validity: undefined, crls }),
    );
    expect(byDefault.code).toBe("ERR_CERT_REVOKED");
  });

  it("refuses an RSA-PSS signature made by openssl under the default allow-list", async () => {
    await writeFile(join(work.dir, "content.json"), content);
    await writeFile(join(work.dir, "signer.pem"), pki.signer.certificatePem);
    await writeFile(join(work.dir, "signer.key"), pki.signer.keyPem);
    const sign = (padding: string[], out: string) =>
      openssl(
        [
          "cms",
          "-sign",
          "-binary",
          "-in",
          "content.json",
          "-signer",
          "signer.pem",
          "-inkey",
          "signer.key",
        ].concat(padding, ["-md", "sha256", "-outform", "DER", "-out", out]),
        work.dir,
      );
    expect((await sign([], "pkcs1.p7s")).code).toBe(0);
    expect((await sign(["-keyopt", "rsa_padding_mode:pss"], "pss.p7s")).code).toBe(0);
    const trust = { trustAnchors: [pki.ca.certificatePem] };
    // the same key and content with PKCS#1 v1.5 padding verifies: only the algorithm is refused
    expect(verifyDetached(content, await readFile(join(work.dir, "pkcs1.p7s")), trust)).toBeDefined();
    const pss = await readFile(join(work.dir, "pss.p7s"));
    // PSS carries algorithm parameters, which the strict shape check (step 1) already refuses
    expect(thrown(() => verifyDetached(content, pss, trust)).code).toBe("ERR_MALFORMED_SIGNATURE");
  });
});

describe("critical extensions on the path", () => {
  // A CA made with openssl, once plain and once with a critical name constraint; each issues a signer.
  async function opensslChain(
    name: string,
    caExtensions: string[],
  ): Promise<{ ca: string; signature: Buffer }> {
    const at = (file: string) => `${name}-${file}`;
    await writeFile(
      join(work.dir, at("leaf.ext")),
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:signer@example.org\n",
    );
    const steps = [
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("ca.key"), "-out", at("ca.pem")]
        .concat(["-days", "30", "-subj", `/CN=${name} CA`, "-addext", "basicConstraints=critical,CA:TRUE"])
        .concat(["-addext", "keyUsage=critical,keyCertSign,cRLSign"], caExtensions),
      [
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        at("leaf.key"),
        "-out",
        at("leaf.csr"),
        "-subj",
        "/CN=signer",
      ],
      [
        "x509",
        "-req",
        "-in",
        at("leaf.csr"),
        "-CA",
        at("ca.pem"),
        "-CAkey",
        at("ca.key"),
        "-CAcreateserial",
      ].concat(["-days", "20", "-extfile", at("leaf.ext"), "-out", at("leaf.pem")]),
      [
        "cms",
        "-sign",
        "-binary",
        "-in",
        "content.json",
        "-signer",
        at("leaf.pem"),
        "-inkey",
        at("leaf.key"),
      ].concat(["-md", "sha256", "-outform", "DER", "-out", at("sig.p7s")]),
    ];
    await writeFile(join(work.dir, "content.json"), content);
    for (const step of steps) {
      const result = await openssl(step, work.dir);
      expect(result.code, result.stderr).toBe(0);
    }
    return {
      ca: await readFile(join(work.dir, at("ca.pem")), "utf8"),
      signature: await readFile(join(work.dir, at("sig.p7s"))),
    };
  }

  it("refuses a path whose CA carries a critical name constraint, which is not evaluated", async () => {
    const plain = await opensslChain("plain", []);
    expect(verifyDetached(content, plain.signature, { trustAnchors: [plain.ca] })).toBeDefined();
    const constrained = await opensslChain("constrained", [
      "-addext",
      "nameConstraints=critical,permitted;email:.example.org",
    ]);
    const error = thrown(() =>
      verifyDetached(content, constrained.signature, { trustAnchors: [constrained.ca] }),
    );
    expect(error.code).toBe("ERR_CERT_USAGE");
  });
});
