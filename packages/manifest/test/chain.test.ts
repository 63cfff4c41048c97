import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { verifyDetached } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openssl, tempDir } from "./fixtures.js";

// Certificates with the exact flaws under test, made by openssl so no custody code shapes them.
const EXTENSIONS = `
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[ca_no_certsign]
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, cRLSign
[not_a_ca]
basicConstraints = critical, CA:false
keyUsage = critical, keyCertSign, digitalSignature
[signer]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
[no_digital_signature]
keyUsage = critical, keyEncipherment
[server_only]
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
[unknown_critical]
keyUsage = critical, digitalSignature
1.3.6.1.4.1.99999.1 = critical, ASN1:NULL
`;

const content = Buffer.from("chain test content");
let work: { dir: string; remove(): Promise<void> };

async function ossl(...args: string[]): Promise<void> {
  const result = await openssl(args, work.dir);
  if (result.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
}

async function selfSigned(name: string, section: string): Promise<void> {
  await ossl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "30",
    "-subj",
    `/CN=${name}`,
    "-config",
    "ext.cnf",
    "-extensions",
    section,
  );
}

async function issued(
  name: string,
  issuer: string,
  section: string,
  options: { bits?: number; md?: string } = {},
) {
  await ossl(
    "req",
    "-new",
    "-newkey",
    `rsa:${options.bits ?? 2048}`,
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
    "-config",
    "ext.cnf",
    "-section",
    "req",
  );
  await ossl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${issuer}.pem`,
    "-CAkey",
    `${issuer}.key`,
    "-set_serial",
    String(Math.floor(Math.random() * 1e9)),
    "-days",
    "30",
    `-${options.md ?? "sha256"}`,
    "-extfile",
    "ext.cnf",
    "-extensions",
    section,
    "-out",
    `${name}.pem`,
  );
}

// signed by openssl, as whoever holds the key could: custody's own signer refuses some of these certificates
async function signWith(name: string, chain: string[] = []): Promise<Buffer> {
  await writeFile(join(work.dir, "content.bin"), content);
  const bundle = (await Promise.all(chain.map((c) => readFile(join(work.dir, `${c}.pem`), "utf8")))).join("");
  await writeFile(join(work.dir, "chain.pem"), bundle);
  const extra = chain.length > 0 ? ["-certfile", "chain.pem"] : [];
  const out = `${name}.p7s`;
  await ossl(
    ...["cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256", "-in", "content.bin"],
    ...["-signer", `${name}.pem`, "-inkey", `${name}.key`, "-out", out, ...extra],
  );
  return readFile(join(work.dir, out));
}

async function codeFor(name: string, anchor: string, chain: string[] = []): Promise<string> {
  const signature = await signWith(name, chain);
  const trustAnchors = [await readFile(join(work.dir, `${anchor}.pem`), "utf8")];
  try {
    verifyDetached(content, signature, { trustAnchors });
    return "valid";
  } catch (error) {
    return error instanceof CustodyError ? error.code : String(error);
  }
}

beforeAll(async () => {
  work = await tempDir("chain");
  await writeFile(join(work.dir, "ext.cnf"), `[req]\ndistinguished_name = dn\n[dn]\n${EXTENSIONS}`);
  await selfSigned("root", "ca");
  await selfSigned("weakroot", "ca_no_certsign");
  await issued("intermediate", "root", "ca");
  await issued("leaf", "intermediate", "signer");
  await issued("underweak", "weakroot", "signer");
  await issued("notca", "root", "not_a_ca");
  await issued("undernotca", "notca", "signer");
  await issued("sha1", "root", "signer", { md: "sha1" });
  await issued("small", "root", "signer", { bits: 1024 });
  await issued("nodigsig", "root", "no_digital_signature");
  await issued("server", "root", "server_only");
  await issued("critical", "root", "unknown_critical");
}, 120_000);

afterAll(() => work?.remove());

describe("certificate paths", () => {
  it("accepts root -> intermediate -> leaf with the intermediate carried in the signature", async () => {
    expect(await codeFor("leaf", "root", ["intermediate"])).toBe("valid");
    expect(await codeFor("leaf", "intermediate")).toBe("valid");
  });

  it("ERR_UNTRUSTED_SIGNER when the intermediate is missing", async () => {
    expect(await codeFor("leaf", "root")).toBe("ERR_UNTRUSTED_SIGNER");
  });

  it("ERR_CERT_USAGE for a CA without keyCertSign, or an issuer that is not a CA", async () => {
    expect(await codeFor("underweak", "weakroot")).toBe("ERR_CERT_USAGE");
    expect(await codeFor("undernotca", "root", ["notca"])).toBe("ERR_CERT_USAGE");
  });

  it("ERR_CERT_USAGE for a leaf without digitalSignature, with only serverAuth, or an unknown critical extension", async () => {
    expect(await codeFor("nodigsig", "root")).toBe("ERR_CERT_USAGE");
    expect(await codeFor("server", "root")).toBe("ERR_CERT_USAGE");
    expect(await codeFor("critical", "root")).toBe("ERR_CERT_USAGE");
  });

  it("ERR_ALGORITHM_NOT_ALLOWED for a SHA-1 certificate signature or a 1024-bit RSA key", async () => {
    expect(await codeFor("sha1", "root")).toBe("ERR_ALGORITHM_NOT_ALLOWED");
    expect(await codeFor("small", "root")).toBe("ERR_ALGORITHM_NOT_ALLOWED");
  });
});
