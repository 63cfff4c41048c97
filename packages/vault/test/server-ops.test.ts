import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateRoles, parseCrl } from "@custody/manifest";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
let vault: Vault;
let identityPem: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-server-ops-"));
  ({ vault, identityPem } = await Vault.init(join(dir, "vault"), { custodian: "alice", keyBits: 2048 }));
});
afterAll(async () => {
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

async function records() {
  const alice = vault.authenticate(identityPem);
  return vault.showAudit(alice);
}

describe("what a server asks of the vault", () => {
  it("issues the server certificate once for its names (server role, subjectAltName), recorded, and again for a new name", async () => {
    const first = await vault.serverCertificate(["localhost", "127.0.0.1"]);
    expect(first.issued).toBe(true);
    const x509 = new X509Certificate(first.certificatePem);
    expect(x509.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1");
    expect(certificateRoles(first.certificatePem)).toEqual(["server"]);
    expect(x509.checkIssued(new X509Certificate(vault.trustAnchors[0] ?? ""))).toBe(true);
    const again = await vault.serverCertificate(["127.0.0.1"]);
    expect(again).toMatchObject({ issued: false, fingerprintSha256: first.fingerprintSha256 });
    const renamed = await vault.serverCertificate(["vault.soc.example"]);
    expect(renamed.issued).toBe(true);
    const issued = (await records()).filter((r) => r.action === "server.certificate-issued");
    expect(issued.map((r) => r.details.fingerprintSha256)).toEqual([
      first.fingerprintSha256,
      renamed.fingerprintSha256,
    ]);
  });

  it("refuses a signing certificate as a peer, and records the refusal with the request", async () => {
    const collector = await readFile(join(vault.dir, "pki", "collector.pem"), "utf8");
    await expect(
      vault.authenticatePeer(collector, { requestId: "r-1", clientAddress: "192.0.2.7" }),
    ).rejects.toMatchObject({
      code: "ERR_IDENTITY_INVALID",
    });
    const refusal = (await records()).find(
      (r) => r.action === "identity.login" && r.details.requestId === "r-1",
    );
    expect(refusal).toMatchObject({ outcome: "deny", details: { clientAddress: "192.0.2.7" } });
  });

  it("accepts an issued identity as a peer and writes its request into the records it causes", async () => {
    const certificate =
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(identityPem)?.[0] ?? "";
    const principal = await vault.authenticatePeer(certificate, {
      requestId: "r-2",
      clientAddress: "192.0.2.8",
    });
    await vault.whoami(principal);
    const mine = (await records()).filter((r) => r.details.requestId === "r-2");
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0]).toMatchObject({ actor: "alice", details: { clientAddress: "192.0.2.8" } });
  });

  it("signs the CRL again with a later nextUpdate, recorded", async () => {
    const before = await vault.crlStatus();
    const after = await vault.republishCrl();
    expect(after.nextUpdate?.getTime()).toBeGreaterThanOrEqual(before.nextUpdate?.getTime() ?? 0);
    expect(parseCrl(after.crlPem).crlNumber).toBeGreaterThan(parseCrl(before.crlPem).crlNumber ?? 0n);
    expect((await records()).some((r) => r.action === "pki.crl-published")).toBe(true);
  });
});
