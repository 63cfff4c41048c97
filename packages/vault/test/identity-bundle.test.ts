import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority, issueCertificate } from "@custody/manifest";
import { type AuthenticatedPrincipal, identityBundle, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-bundle-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;
let alicePem = "";
let bobPem = "";

const PEM = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;
const blocks = (pem: string) => [...pem.matchAll(PEM)].map((m) => ({ label: m[1], pem: m[0] }));

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alicePem = created.identityPem;
  alice = vault.authenticate(alicePem);
  bobPem = (await vault.issueIdentity(alice, "bob")).identityPem;
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("identity files", () => {
  it("carry the certificate, its key, then the vault CA certificate (the server's trust anchor)", () => {
    const ca = readFileSync(join(dir, "pki", "ca.pem"), "utf8").trim();
    for (const pem of [alicePem, bobPem]) {
      const parts = blocks(pem);
      expect(parts.map((p) => p.label)).toEqual(["CERTIFICATE", "PRIVATE KEY", "CERTIFICATE"]);
      expect(parts[2]?.pem).toBe(ca);
      expect(new X509Certificate(parts[0]?.pem ?? "").checkIssued(new X509Certificate(ca))).toBe(true);
    }
    expect(vault.authenticate(bobPem).id).toBe("bob");
  });

  it("take the certificate that matches the key as the caller, whatever comes before or after it", () => {
    const [aliceCert, aliceKey] = blocks(alicePem);
    const [bobCert] = blocks(bobPem);
    // Bob's certificate placed first, then Alice's certificate and key: still Alice, never Bob.
    const reordered = `${bobCert?.pem}\n${aliceCert?.pem}\n${aliceKey?.pem}\n`;
    expect(vault.authenticate(reordered)).toEqual(alice);
    // The key first, the certificate last (any order a tool may write).
    expect(vault.authenticate(`${aliceKey?.pem}\n${aliceCert?.pem}\n`)).toEqual(alice);
  });

  it("are not changed by an extra certificate that is not the vault CA", async () => {
    const otherCa = await createCertificateAuthority({ commonName: "other", keyBits: 2048 });
    const [aliceCert, aliceKey] = blocks(alicePem);
    const withForeign = identityBundle(aliceCert?.pem ?? "", aliceKey?.pem ?? "", otherCa.certificatePem);
    expect(vault.authenticate(withForeign)).toEqual(alice);
    // Alice's certificate riding along with another CA's login certificate and its key: not Alice.
    const stranger = await issueCertificate(otherCa, { commonName: "alice", usage: "person", keyBits: 2048 });
    const smuggled = `${stranger.certificatePem}\n${stranger.keyPem}\n${aliceCert?.pem}\n`;
    expect(() => vault.authenticate(smuggled)).toThrow(
      expect.objectContaining({ code: "ERR_IDENTITY_INVALID", message: expect.stringContaining("CA") }),
    );
  });

  it("refuse a bundle with no certificate for its key, or two different ones", () => {
    const [aliceCert] = blocks(alicePem);
    const [bobCert, bobKey] = blocks(bobPem);
    expect(() => vault.authenticate(`${aliceCert?.pem}\n${bobKey?.pem}\n`)).toThrow(
      expect.objectContaining({
        code: "ERR_IDENTITY_INVALID",
        message: expect.stringContaining("does not belong"),
      }),
    );
    // The same certificate twice is one certificate.
    expect(vault.authenticate(`${alicePem}${aliceCert?.pem}\n`)).toEqual(alice);
    // A second, self-made certificate for Bob's key named alice: which one is meant is not guessed.
    const keyFile = join(work, "bob.key");
    writeFileSync(keyFile, `${bobKey?.pem}\n`, { mode: 0o600 });
    const selfMade = execFileSync(
      "openssl",
      ["req", "-new", "-x509", "-key", keyFile, "-subj", "/CN=alice", "-days", "1"],
      { encoding: "utf8" },
    );
    expect(() => vault.authenticate(`${selfMade}${bobCert?.pem}\n${bobKey?.pem}\n`)).toThrow(
      expect.objectContaining({ code: "ERR_IDENTITY_INVALID", message: expect.stringContaining("several") }),
    );
  });
});
