import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditLog, verifyCustodyReport } from "@custody/audit";
import { type Clock, isCustodyError } from "@custody/core";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";

const DAY = 86_400_000;
const work = mkdtempSync(join(tmpdir(), "custody-signer-life-"));
const dir = join(work, "vault");
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A clock the test moves: the vault's whole life in a few seconds. */
function movable(start: string): Clock & { advanceDays(days: number): void } {
  let now = Date.parse(start);
  return { now: () => new Date(now), advanceDays: (days) => (now += days * DAY) };
}

describe("signatures outlive their certificates", () => {
  it("keeps every checkpoint and an old custody report verifying after the signer that made them expired", async () => {
    const clock = movable("2027-01-01T00:00:00.000Z");
    const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048, clock });
    const alice = vault.authenticate(identityPem);
    writeFileSync(join(work, "e.txt"), "evidence\n");
    const item = await vault.ingest(alice, join(work, "e.txt"), { caseId: "A", retainDays: 0 });
    const oldReport = await vault.report(alice, item.id);
    await vault.close();
    const firstSigner = oldReport.report.proofs[0]?.checkpoint;
    expect(firstSigner).toBeDefined();

    // 710 days on: the signer (730 days) is within 30 days of expiry; opening installs a new one.
    clock.advanceDays(710);
    const renewed = await Vault.open({ dir, clock });
    const aliceThen = renewed.authenticate(identityPem);
    const records = (await renewed.showAudit(aliceThen)).map((r) => r.action);
    expect(records.filter((action) => action === "keys.signer-installed")).toHaveLength(2);
    // People's identities expire too: alice takes a new one while hers is valid.
    const fresh = await renewed.issueIdentity(aliceThen, "alice");
    await renewed.close();

    // Three years after init: the first signer has long expired; its checkpoints still verify.
    clock.advanceDays(400);
    const trust = { trustAnchors: [readFileSync(join(dir, "pki", "ca.pem"), "utf8")], clock };
    const audit = await verifyAuditLog({ dir: join(dir, "audit") }, { trust });
    expect(audit.problem).toBeUndefined();
    expect(audit.ok).toBe(true);
    expect(verifyCustodyReport(oldReport, trust).events).toBe(oldReport.report.events.length);
    const later = await Vault.open({ dir, clock });
    const report = await later.report(later.authenticate(fresh.identityPem), item.id);
    expect(verifyCustodyReport(report, trust).events).toBeGreaterThan(oldReport.report.events.length);
    await later.close();
  });

  it("rotates on request, and refuses the rotation to anyone but a custodian", async () => {
    const clock = movable("2027-06-01T00:00:00.000Z");
    const { vault, identityPem } = await Vault.init(join(work, "rotating"), {
      custodian: "carol",
      keyBits: 2048,
      clock,
    });
    const carol = vault.authenticate(identityPem);
    const issued = await vault.issueIdentity(carol, "dan");
    const dan = vault.authenticate(issued.identityPem);
    const refused = await vault.rotateSigner(dan).catch((e: unknown) => e);
    expect(isCustodyError(refused, "ERR_ACCESS_DENIED"), String(refused)).toBe(true);
    const rotation = await vault.rotateSigner(carol);
    expect(rotation.previousFingerprintSha256).not.toBe(rotation.fingerprintSha256);
    const report = await vault.verifyAudit(carol);
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
    await vault.close();
  });
});
