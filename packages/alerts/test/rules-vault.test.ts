import { createHash } from "node:crypto";
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type AlertEngine, createAlertEngine } from "@custody/alerts";
import { createPackageWriter } from "@custody/archive";
import { isCustodyError } from "@custody/core";
import { createCertificateAuthority, createKeySigner, issueCertificate } from "@custody/manifest";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memorySink } from "./memory-sink.js";

// Every default rule, driven by a real vault in a temp folder: the records are the vault's own.
const work = mkdtempSync(join(tmpdir(), "custody-alerts-vault-"));
const dir = join(work, "vault");
const sink = memorySink();
let engine: AlertEngine;
let vault: Vault;
let alice: AuthenticatedPrincipal;
let bob: AuthenticatedPrincipal;
let aliceIdentity = "";

const open = () => Vault.open({ dir, onAuditRecord: (record) => engine.observe(record) });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The rules that fired while `act` ran, in order. */
async function rulesFiredBy(act: () => Promise<unknown>): Promise<string[]> {
  const from = sink.alerts.length;
  await act();
  return sink.alerts.slice(from).map((alert) => alert.rule);
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCustodyError(error) ? error.code : String(error);
}

function evidence(name: string, text: string): string {
  const file = join(work, name);
  writeFileSync(file, text);
  return file;
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  await created.vault.close();
  aliceIdentity = created.identityPem;
  engine = createAlertEngine({ sinks: [sink] });
  vault = await open();
  alice = vault.authenticate(aliceIdentity);
});

afterAll(async () => {
  await vault.close().catch(() => {});
  await engine.close();
  rmSync(work, { recursive: true, force: true });
});

describe("default rules on a real vault", () => {
  it("raises nothing for the replay at open, nor for ordinary work", async () => {
    expect(sink.alerts).toEqual([]);
    const fired = await rulesFiredBy(async () => {
      await vault.ingest(alice, evidence("plain.txt", "plain evidence\n"), { caseId: "A" });
      await vault.list(alice, { caseId: "A" });
    });
    expect(fired).toEqual([]);
  });

  it("identity-changed: an identity issued, then revoked", async () => {
    const fired = await rulesFiredBy(async () => {
      const issued = await vault.issueIdentity(alice, "bob");
      bob = vault.authenticate(issued.identityPem);
    });
    expect(fired).toEqual(["identity-changed"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "identity.issued", actor: "alice" });
    await vault.issueIdentity(alice, "dave");
    expect(await rulesFiredBy(() => vault.revokeIdentity(alice, "dave"))).toContain("identity-changed");
    expect(sink.alerts.at(-1)?.record.action).toBe("identity.revoked");
  });

  it("access-policy-changed: a grant", async () => {
    const fired = await rulesFiredBy(() =>
      vault.grant(alice, { name: "bob", role: "investigator", scope: "case:A" }),
    );
    expect(fired).toEqual(["access-policy-changed"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "access.policy-changed", target: "policy" });
  });

  it("denial-burst: the fifth denial of one principal within the window, once", async () => {
    const deny = () => codeOf(vault.list(bob, { caseId: "B" }));
    const fired = await rulesFiredBy(async () => {
      for (let i = 0; i < 4; i += 1) expect(await deny()).toBe("ERR_ACCESS_DENIED");
    });
    expect(fired).toEqual([]);
    expect(await rulesFiredBy(deny)).toEqual(["denial-burst"]);
    const alert = sink.alerts.at(-1);
    expect(alert?.record).toMatchObject({ actor: "bob", action: "evidence.list", outcome: "deny" });
    expect(alert?.burst).toMatchObject({ count: 5, windowMs: 60_000 });
    expect(await rulesFiredBy(deny)).toEqual([]);
  });

  it("integrity-mismatch: a read and a check of bytes changed on disk", async () => {
    const text = "the original bytes\n";
    const item = await vault.ingest(alice, evidence("changed.txt", text), { caseId: "A" });
    const data = join(dir, "store", "objects", "items", sha256("A"), `=${item.id}`, "data");
    chmodSync(data, 0o644);
    writeFileSync(data, "THE ORIGINAL BYTES\n");
    const raised = sink.next("integrity-mismatch");
    const { stream } = await vault.read(alice, item.id);
    const sinkStream = new Writable({ write: (_chunk, _encoding, done) => done() });
    expect(await codeOf(pipeline(stream, sinkStream))).toBe("ERR_INTEGRITY_MISMATCH");
    // The failed read is recorded as the stream fails, after read() returned: wait for its alert.
    expect((await raised).record).toMatchObject({ action: "evidence.read", outcome: "error" });
    const fired = await rulesFiredBy(() => vault.check(alice, item.id));
    expect(fired).toEqual(["integrity-mismatch"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "evidence.check", outcome: "error" });
  });

  it("package-verification-failed: a foreign package refused, then kept as unverified", async () => {
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
    const refused = await rulesFiredBy(async () => {
      expect(await codeOf(vault.ingest(alice, file, { caseId: "A" }))).toBe("ERR_PACKAGE_INVALID");
    });
    expect(refused).toEqual(["package-verification-failed"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "evidence.ingest", outcome: "error" });
    const kept = await rulesFiredBy(() => vault.ingest(alice, file, { caseId: "A", allowUnverified: true }));
    expect(kept).toEqual(["package-verification-failed"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "evidence.ingested", outcome: "allow" });
  });

  it("legal-hold-released and evidence-purged", async () => {
    const held = await vault.ingest(alice, evidence("held.txt", "held\n"), { caseId: "A", legalHold: true });
    expect(await rulesFiredBy(() => vault.release(alice, held.id))).toEqual(["legal-hold-released"]);
    const short = await vault.ingest(alice, evidence("short.txt", "short\n"), { caseId: "A", retainDays: 0 });
    expect(await rulesFiredBy(() => vault.purge(alice, short.id))).toEqual(["evidence-purged"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "evidence.purged", actor: "alice" });
  });

  it("custodian-limit: a refused custodian grant, and a third custodian", async () => {
    const byBob = await rulesFiredBy(async () => {
      const grant = vault.grant(bob, { name: "bob", role: "custodian", scope: "*" });
      expect(await codeOf(grant)).toBe("ERR_ACCESS_DENIED");
    });
    expect(byBob).toEqual(["custodian-limit"]);
    await vault.issueIdentity(alice, "erin");
    await vault.grant(alice, { name: "erin", role: "custodian", scope: "*" });
    const third = await rulesFiredBy(async () => {
      const grant = vault.grant(alice, { name: "carol", role: "custodian", scope: "*" });
      expect(await codeOf(grant)).toBe("ERR_CUSTODIAN_LIMIT");
    });
    expect(third).toEqual(["custodian-limit"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "access.grant", outcome: "error" });
  });

  it("audit-log-repaired: a torn write cut when the vault opens again, and nothing else replayed", async () => {
    await vault.close();
    appendFileSync(join(dir, "audit", "audit.log"), '{"seq":999,"torn');
    const fired = await rulesFiredBy(async () => {
      vault = await open();
      alice = vault.authenticate(aliceIdentity);
    });
    expect(fired).toEqual(["audit-log-repaired"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "audit.recover", actor: "custody.audit" });
    await vault.close();
    expect(await rulesFiredBy(async () => (vault = await open()))).toEqual([]);
    alice = vault.authenticate(aliceIdentity);
  });

  it("audit-verify-failed: a record changed on disk under the running vault", async () => {
    const file = join(dir, "audit", "audit.log");
    const lines = readFileSync(file, "utf8").split("\n");
    // Same length, so the open log's durable size still ends on a whole line.
    lines[1] = (lines[1] ?? "").replace(/"actor":"a/, '"actor":"A');
    writeFileSync(file, lines.join("\n"));
    const fired = await rulesFiredBy(async () => {
      expect((await vault.verifyAudit(alice)).ok).toBe(false);
    });
    expect(fired).toEqual(["audit-verify-failed"]);
    expect(sink.alerts.at(-1)?.record).toMatchObject({ action: "audit.read", target: "audit:verify" });
    expect(sink.alerts.at(-1)?.record.reason).toMatch(/^ERR_AUDIT_/);
  });
});
