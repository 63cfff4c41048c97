import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { verifyCustodyReport } from "@custody/audit";
import { isCustodyError } from "@custody/core";
import { createCertificateAuthority, issueCertificate } from "@custody/manifest";
import { FsEvidenceStore } from "@custody/store";
import { type AuthenticatedPrincipal, bindVault, identityBundle, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-vault-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;
let custodianPem = "";

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCustodyError(error) ? error.code : error).toBe(code);
}

async function auditLines(): Promise<{ actor: string; action: string; outcome: string; target: string }[]> {
  const text = await readFile(join(dir, "audit", "audit.log"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  custodianPem = created.identityPem;
  alice = vault.authenticate(custodianPem);
  writeFileSync(join(work, "evidence.txt"), "a suspicious file\n");
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("bindVault", () => {
  it("acts as the bound principal, audited like a direct call", async () => {
    const api = bindVault(vault, alice);
    expect((await api.whoami()).id).toBe("alice");
    const before = (await auditLines()).length;
    await api.list({ caseId: "BIND" });
    const last = (await auditLines()).slice(before).at(-1);
    expect(last).toMatchObject({ actor: "alice", action: "evidence.list", outcome: "allow" });
  });
});

describe("Vault identities", () => {
  it("refuses a principal it did not authenticate itself", async () => {
    const forged = { ...alice };
    await expectCode(vault.list(forged), "ERR_IDENTITY_INVALID");
  });

  it("refuses an identity from another CA and a key that is not the certificate's", async () => {
    const otherCa = await createCertificateAuthority({ commonName: "other", keyBits: 2048 });
    const stranger = await issueCertificate(otherCa, { commonName: "alice", usage: "person", keyBits: 2048 });
    expect(() => vault.authenticate(identityBundle(stranger.certificatePem, stranger.keyPem))).toThrow(
      expect.objectContaining({ code: "ERR_IDENTITY_INVALID" }),
    );
    const certOnly = custodianPem.split("-----BEGIN PRIVATE KEY-----")[0] ?? "";
    expect(() => vault.authenticate(identityBundle(certOnly, stranger.keyPem))).toThrow(
      expect.objectContaining({ code: "ERR_IDENTITY_INVALID" }),
    );
  });
});

describe("Vault evidence", () => {
  let id = "";

  it("ingests a file once, content-addressed, and records who did it", async () => {
    const item = await vault.ingest(alice, join(work, "evidence.txt"), {
      caseId: "A",
      labels: { source: "laptop" },
    });
    id = item.id;
    expect(item.acquisition.by).toBe("alice");
    expect(item.digests.sha256).toBe(id);
    await expectCode(vault.ingest(alice, join(work, "evidence.txt"), { caseId: "A" }), "ERR_ALREADY_EXISTS");
    const records = await auditLines();
    expect(
      records.some(
        (r) => r.action === "evidence.ingested" && r.target === `item:A/${id}` && r.outcome === "allow",
      ),
    ).toBe(true);
  });

  it("refuses a case id or item id that could smuggle a path, before reading anything", async () => {
    await expectCode(
      vault.ingest(alice, join(work, "evidence.txt"), { caseId: "../etc" }),
      "ERR_INVALID_ARGUMENT",
    );
    await expectCode(vault.show(alice, "items/../../x"), "ERR_INVALID_ARGUMENT");
    await expectCode(vault.show(alice, "0123456789abcdef"), "ERR_NOT_FOUND");
    await expectCode(vault.show(alice, { id, caseId: "../B" }), "ERR_NOT_FOUND");
  });

  it("reports an object planted in the store without an ingest record, instead of failing the whole pass", async () => {
    const { Readable } = await import("node:stream");
    const key = `items/${"cd".repeat(32)}/${"ab".repeat(32)}`;
    // The folder writer, through the store's own code but not through the vault.
    const store = await FsEvidenceStore.open(join(dir, "store"));
    await store.create(key, Readable.from([Buffer.from("planted")]), { metadata: { custodyrecord: "e30" } });
    const results = await vault.check(alice);
    expect(results.find((r) => r.id === key)).toMatchObject({ ok: false, code: "ERR_INTEGRITY_MISMATCH" });
    expect(results.filter((r) => r.ok).length).toBeGreaterThan(0);
  });

  it("verifies a package before storing it: a foreign signer is refused unless ingested as unverified, which is recorded", async () => {
    const { Readable } = await import("node:stream");
    const { createPackageWriter } = await import("@custody/archive");
    const { createKeySigner } = await import("@custody/manifest");
    const foreignCa = await createCertificateAuthority({ commonName: "not the vault", keyBits: 2048 });
    const leaf = await issueCertificate(foreignCa, {
      commonName: "stranger",
      usage: "collector",
      keyBits: 2048,
    });
    const file = join(work, "foreign.zip");
    const writer = createPackageWriter(file, {
      name: "foreign",
      device: { id: "laptop-7" },
      collector: { operator: "x", tool: "t", toolVersion: "1", host: "h" },
      signer: createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem }),
    });
    await writer.addStream("Processes/list.csv", Readable.from([Buffer.from("pid\n1\n")]));
    await writer.finalize();
    await expectCode(vault.ingest(alice, file, { caseId: "A" }), "ERR_PACKAGE_INVALID");
    const kept = await vault.ingest(alice, file, { caseId: "A", allowUnverified: true });
    expect(kept.package).toMatchObject({ verified: false, deviceId: "laptop-7" });
    expect(kept.package?.problems[0]?.code).toBe("ERR_UNTRUSTED_SIGNER");
    const records = (await auditLines()).filter((r) => r.target === `item:A/${kept.id}`);
    // The refused attempt: decided, then failed verification; the second: decided, stored as unverified.
    expect(records.map((r) => `${r.action} ${r.outcome}`)).toEqual([
      "evidence.ingest allow",
      "evidence.ingest error",
      "evidence.ingest allow",
      "evidence.ingested allow",
    ]);
  });

  it("denies a principal without a grant, records the denial, and changes nothing", async () => {
    const issued = await vault.issueIdentity(alice, "mallory");
    const mallory = vault.authenticate(issued.identityPem);
    await expectCode(vault.hold(mallory, id), "ERR_ACCESS_DENIED");
    expect((await vault.show(alice, id)).legalHold).toBe(false);
    const last = (await auditLines()).filter((r) => r.actor === "mallory").at(-1);
    expect(last).toMatchObject({ action: "evidence.hold", outcome: "deny", target: `item ${id}` });
  });

  it("streams an item back verified", async () => {
    const { stream } = await vault.read(alice, id);
    const chunks: Buffer[] = [];
    await pipeline(
      stream,
      new Writable({
        write(chunk, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      }),
    );
    expect(Buffer.concat(chunks).toString()).toBe("a suspicious file\n");
  });

  it("signs a custody report whose proofs verify offline and whose forgery does not", async () => {
    const signed = await vault.report(alice, id);
    const trust = { trustAnchors: vault.trustAnchors };
    expect(verifyCustodyReport(signed, trust).events).toBe(signed.report.events.length);
    const forged = structuredClone(signed);
    const first = forged.report.events[0];
    if (first) first.reason = "rewritten";
    expect(() => verifyCustodyReport(forged, trust)).toThrow(
      expect.objectContaining({ code: "ERR_DIGEST_MISMATCH" }),
    );
  });

  it("fails an operation whose audit record cannot be written, and stores nothing", async () => {
    const second = await Vault.init(join(work, "second"), { custodian: "carol", keyBits: 2048 });
    const carol = second.vault.authenticate(second.identityPem);
    writeFileSync(join(work, "late.txt"), "arrives after the log closed\n");
    await second.vault.close();
    await expectCode(
      second.vault.ingest(carol, join(work, "late.txt"), { caseId: "A" }),
      "ERR_INVALID_ARGUMENT",
    );
    let stored = 0;
    for await (const _ of (await FsEvidenceStore.open(join(work, "second", "store"))).list()) stored++;
    expect(stored).toBe(0);
  });

  it("refuses to open a missing vault, to init over one, and leaves nothing behind a refused init", async () => {
    const missing = await Vault.open({ dir: join(work, "missing") }).catch((e: unknown) => e);
    expect(isCustodyError(missing, "ERR_VAULT_NOT_INITIALIZED")).toBe(true);
    await expectCode(Vault.init(dir, { custodian: "eve", keyBits: 2048 }), "ERR_ALREADY_EXISTS");
    await expectCode(
      Vault.init(join(work, "bad"), { custodian: "no spaces/allowed", keyBits: 2048 }),
      "ERR_INVALID_ARGUMENT",
    );
    expect(existsSync(join(work, "bad"))).toBe(false);
  });
});
