import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, fixedClock } from "@custody/core";
import {
  createCrl,
  createKeySigner,
  issueCertificate,
  type TrustOptions,
  verifyDetached,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, openssl, PKI_EPOCH, type TestPki, tempDir } from "./fixtures.js";

// An openssl CA of its own, configured here, so interop never depends on how custody builds certificates.
const CA_CONFIG = `
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
certificate = ossl-ca.pem
private_key = ossl-ca.key
default_md = sha256
default_days = 30
default_crl_days = 30
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = OpenSSL Interop CA
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_signer]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const content = Buffer.from('{"items":[],"version":"custody.manifest/v1"}\n');
let work: { dir: string; remove(): Promise<void> };
let pki: TestPki;

async function ossl(...args: string[]): Promise<void> {
  const result = await openssl(args, work.dir);
  if (result.code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
}

async function issueWithOpenssl(
  name: string,
  cn: string,
  extra: string[] = [],
  key = ["-newkey", "rsa:2048"],
) {
  await ossl(
    "req",
    "-new",
    ...key,
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${cn}`,
  );
  await ossl(
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.pem`,
    "-extensions",
    "v3_signer",
    "-notext",
    ...extra,
  );
}

async function opensslSign(signer: string, out: string, extra: string[] = []): Promise<Buffer> {
  await ossl(
    "cms",
    "-sign",
    "-binary",
    "-outform",
    "DER",
    "-md",
    "sha256",
    "-in",
    "content.bin",
    "-signer",
    `${signer}.pem`,
    "-inkey",
    `${signer}.key`,
    "-out",
    out,
    ...extra,
  );
  return readFile(join(work.dir, out));
}

async function opensslVerify(signature: string, contentFile: string, caFile: string, extra: string[] = []) {
  const args = [
    "cms",
    "-verify",
    "-binary",
    "-inform",
    "DER",
    "-content",
    contentFile,
    "-in",
    signature,
    "-CAfile",
    caFile,
    "-purpose",
    "any",
    "-out",
    "/dev/null",
  ];
  return (await openssl([...args, ...extra], work.dir)).code;
}

function codeOf(action: () => unknown): string {
  try {
    action();
    return "no error";
  } catch (error) {
    return error instanceof CustodyError ? error.code : `not a CustodyError: ${String(error)}`;
  }
}

beforeAll(async () => {
  work = await tempDir("openssl");
  pki = await createTestPki();
  await writeFile(join(work.dir, "ca.cnf"), CA_CONFIG);
  await writeFile(join(work.dir, "index.txt"), "");
  await writeFile(join(work.dir, "serial"), "1000\n");
  await ossl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ossl-ca.key",
    "-out",
    "ossl-ca.pem",
    "-days",
    "3650",
    "-config",
    "ca.cnf",
    "-extensions",
    "v3_ca",
    "-set_serial",
    "1",
  );
  await mkdir(join(work.dir, "issued"));
  await issueWithOpenssl("leaf", "openssl signer");
  await issueWithOpenssl("expired", "expired signer", [
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200201000000Z",
  ]);
  await issueWithOpenssl("revoked", "revoked signer");
  await issueWithOpenssl("ec", "ec signer", [], ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  await ossl("ca", "-config", "ca.cnf", "-revoke", "revoked.pem");
  await ossl("ca", "-config", "ca.cnf", "-gencrl", "-out", "ossl-crl.pem");
  await writeFile(join(work.dir, "content.bin"), content);
  await writeFile(join(work.dir, "tampered.bin"), Buffer.concat([content, Buffer.from(" ")]));
  await writeFile(join(work.dir, "ca.pem"), pki.ca.certificatePem);
}, 120_000);

afterAll(async () => {
  await work?.remove();
});

describe("custody signatures verify with openssl cms", () => {
  it("accepts a valid signature and refuses tampered content and a wrong CA", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    await writeFile(join(work.dir, "ours.p7s"), await signer.sign(content));
    expect(await opensslVerify("ours.p7s", "content.bin", "ca.pem")).toBe(0);
    expect(await opensslVerify("ours.p7s", "tampered.bin", "ca.pem")).not.toBe(0);
    expect(await opensslVerify("ours.p7s", "content.bin", "ossl-ca.pem")).not.toBe(0);
  });

  it("refuses an expired signer certificate", async () => {
    const leaf = await issueCertificate(pki.ca, {
      commonName: "old",
      usage: "signer",
      keyBits: 2048,
      clock: PKI_EPOCH,
      validDays: 30,
    });
    const signer = createKeySigner({
      keyPem: leaf.keyPem,
      certificatePem: leaf.certificatePem,
      clock: fixedClock("2020-01-05T00:00:00Z"),
    });
    await writeFile(join(work.dir, "ours-expired.p7s"), await signer.sign(content));
    expect(await opensslVerify("ours-expired.p7s", "content.bin", "ca.pem")).not.toBe(0);
  });

  it("applies our CRL: revoked fails, a CRL without the signer passes", async () => {
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    await writeFile(join(work.dir, "ours-crl.p7s"), await signer.sign(content));
    const revoked = createCrl(pki.ca, [{ serialNumber: pki.signer.serialNumber, revokedAt: new Date() }]);
    const clean = createCrl(pki.ca, [{ serialNumber: "0badc0de", revokedAt: new Date() }]);
    await writeFile(join(work.dir, "ca-revoked.pem"), pki.ca.certificatePem + revoked);
    await writeFile(join(work.dir, "ca-clean.pem"), pki.ca.certificatePem + clean);
    expect(await opensslVerify("ours-crl.p7s", "content.bin", "ca-clean.pem", ["-crl_check"])).toBe(0);
    expect(await opensslVerify("ours-crl.p7s", "content.bin", "ca-revoked.pem", ["-crl_check"])).not.toBe(0);
  });
});

describe("custody signing with an EC key (openssl-made P-256 certificate)", () => {
  it("verifies with openssl and with custody", async () => {
    const read = (file: string) => readFile(join(work.dir, file), "utf8");
    const signer = createKeySigner({ keyPem: await read("ec.key"), certificatePem: await read("ec.pem") });
    const signature = await signer.sign(content);
    await writeFile(join(work.dir, "ours-ec.p7s"), signature);
    expect(await opensslVerify("ours-ec.p7s", "content.bin", "ossl-ca.pem")).toBe(0);
    const caPem = await read("ossl-ca.pem");
    expect(verifyDetached(content, signature, { trustAnchors: [caPem] }).signer.subject).toBe("CN=ec signer");
  });
});

describe("openssl cms signatures verify with custody", () => {
  const trust = (): TrustOptions => ({ trustAnchors: [readCa()] });
  let caPem = "";
  const readCa = () => caPem;
  beforeAll(async () => {
    caPem = await readFile(join(work.dir, "ossl-ca.pem"), "utf8");
  });

  it("accepts issuerAndSerialNumber and subjectKeyIdentifier signer ids, RSA and ECDSA", async () => {
    const plain = await opensslSign("leaf", "ossl.p7s");
    expect(verifyDetached(content, plain, trust()).signer.subject).toBe("CN=openssl signer");
    const keyid = await opensslSign("leaf", "ossl-keyid.p7s", ["-keyid", "-nosmimecap"]);
    expect(verifyDetached(content, keyid, trust()).signer.subject).toBe("CN=openssl signer");
    const ec = await opensslSign("ec", "ossl-ec.p7s");
    expect(verifyDetached(content, ec, trust()).signer.subject).toBe("CN=ec signer");
  });

  it("refuses an openssl signature with any single byte flipped", async () => {
    const signature = await opensslSign("leaf", "ossl-flip.p7s");
    const survivors: number[] = [];
    for (let at = 0; at < signature.length; at++) {
      const flipped = Buffer.from(signature);
      flipped[at] = (flipped[at] ?? 0) ^ 0x04;
      const code = codeOf(() => verifyDetached(content, flipped, trust()));
      if (code === "no error" || code.startsWith("not a CustodyError")) survivors.push(at);
    }
    expect(survivors).toEqual([]);
  });

  it("refuses tampered content and an untrusted CA, as openssl does", async () => {
    const signature = await opensslSign("leaf", "ossl2.p7s");
    expect(codeOf(() => verifyDetached(Buffer.concat([content, Buffer.from(" ")]), signature, trust()))).toBe(
      "ERR_DIGEST_MISMATCH",
    );
    expect(await opensslVerify("ossl2.p7s", "tampered.bin", "ossl-ca.pem")).not.toBe(0);
    expect(codeOf(() => verifyDetached(content, signature, { trustAnchors: [pki.ca.certificatePem] }))).toBe(
      "ERR_UNTRUSTED_SIGNER",
    );
    expect(await opensslVerify("ossl2.p7s", "content.bin", "ca.pem")).not.toBe(0);
  });

  it("refuses an expired certificate, as openssl does", async () => {
    const signature = await opensslSign("expired", "ossl-expired.p7s");
    expect(codeOf(() => verifyDetached(content, signature, trust()))).toBe("ERR_CERT_EXPIRED");
    expect(await opensslVerify("ossl-expired.p7s", "content.bin", "ossl-ca.pem")).not.toBe(0);
  });

  it("refuses a certificate revoked in an openssl CRL, as openssl does", async () => {
    const signature = await opensslSign("revoked", "ossl-revoked.p7s");
    const crl = await readFile(join(work.dir, "ossl-crl.pem"), "utf8");
    expect(verifyDetached(content, signature, trust()).signer.subject).toBe("CN=revoked signer");
    expect(codeOf(() => verifyDetached(content, signature, { ...trust(), crls: [crl] }))).toBe(
      "ERR_CERT_REVOKED",
    );
    await writeFile(join(work.dir, "ossl-ca-crl.pem"), caPem + crl);
    expect(
      await opensslVerify("ossl-revoked.p7s", "content.bin", "ossl-ca-crl.pem", ["-crl_check"]),
    ).not.toBe(0);
    const good = await opensslSign("leaf", "ossl-good.p7s");
    expect(verifyDetached(content, good, { ...trust(), crls: [crl] }).signer.subject).toBe(
      "CN=openssl signer",
    );
  });
});
