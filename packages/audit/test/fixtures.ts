import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  CERTIFICATE_ROLE_OIDS,
  type CertificateRole,
  createCertificateAuthority,
  createKeySigner,
  type Signer,
  type TrustOptions,
} from "@custody/manifest";
import { afterAll, beforeAll } from "vitest";

const run = promisify(execFile);

/**
 * For one test file: its PKI (made before the tests) and log folders under fresh temp folders, all
 * removed after the tests.
 */
export function logFolders(prefix: string): { readonly pki: TestPki; newDir(): Promise<string> } {
  let pki: TestPki | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    pki = await createTestPki();
  });
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  return {
    get pki() {
      if (pki === undefined) throw new Error("the PKI is made before the tests run");
      return pki;
    },
    async newDir() {
      const temp = await tempDir(prefix);
      cleanups.push(temp.remove);
      return join(temp.dir, "log");
    },
  };
}

export interface TestPki {
  signer: Signer;
  trust: TrustOptions;
  caPem: string;
  ca: { certificatePem: string; keyPem: string };
  leaf: { keyPem: string; certificatePem: string };
}

/**
 * A CA and a checkpoint signer under it (the vault-signer role); 2048-bit keys keep the suite fast.
 * Leaves are issued with openssl, so the role's EKU is there whatever the PKI helpers offer.
 */
export async function createTestPki(commonName = "Audit Test CA"): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName, keyBits: 2048 });
  const leaf = await issueRoleCertificate(ca, "vault-signer", "vault");
  return {
    signer: createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem }),
    trust: { trustAnchors: [ca.certificatePem] },
    caPem: ca.certificatePem,
    ca: { certificatePem: ca.certificatePem, keyPem: ca.keyPem },
    leaf,
  };
}

/**
 * A signing certificate for `role` under `ca`: the role's own EKU, plus codeSigning and
 * emailProtection, which verifiers that predate roles require of a signer.
 */
export async function issueRoleCertificate(
  ca: { certificatePem: string; keyPem: string },
  role: CertificateRole,
  commonName: string,
): Promise<{ keyPem: string; certificatePem: string }> {
  const dir = await mkdtemp(join(tmpdir(), "custody-audit-cert-"));
  try {
    const file = (name: string) => join(dir, name);
    await writeFile(file("ca.pem"), ca.certificatePem);
    await writeFile(file("ca.key"), ca.keyPem, { mode: 0o600 });
    await writeFile(
      file("ext.cnf"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,nonRepudiation",
        `extendedKeyUsage=${CERTIFICATE_ROLE_OIDS[role]},codeSigning,emailProtection`,
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        "",
      ].join("\n"),
    );
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      file("leaf.key"),
    ]);
    await run("openssl", [
      "req",
      "-new",
      "-key",
      file("leaf.key"),
      "-subj",
      `/CN=${commonName}`,
      "-out",
      file("leaf.csr"),
    ]);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      file("leaf.csr"),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-set_serial",
      `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`,
      "-days",
      "30",
      "-sha256",
      "-extfile",
      file("ext.cnf"),
      "-out",
      file("leaf.pem"),
    ]);
    return {
      keyPem: await readFile(file("leaf.key"), "utf8"),
      certificatePem: await readFile(file("leaf.pem"), "utf8"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `custody-audit-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
