import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { verifyCustodyReport } from "@custody/audit";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Remediation facts on a real vault: the quarantine item must be an item of the case, the facts are
// rebuilt from the signed log, an undo of another case's remediation is not found, a second one refused,
// and both facts are in the item's custody report, which verifies offline.
let dir: string;
let vaultDir: string;
let vault: Vault;
let alice: AuthenticatedPrincipal;
let identity: string;
const CASE = "IR-1";
const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";
const bytes = Buffer.from("quarantined bytes\n".repeat(100));
const sha256 = createHash("sha256").update(bytes).digest("hex");

function fact(remediationId: string, itemId = sha256) {
  return {
    remediationId,
    caseId: CASE,
    deviceId: DEVICE,
    sessionId: "S-1",
    cmdId: remediationId,
    type: "file",
    target: "/tmp/evil",
    steps: [{ action: "quarantine", outcome: "done", path: "/tmp/evil" }],
    items: [{ itemId, path: "/tmp/evil", sha256: itemId, size: bytes.length, mode: 0o644 }],
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-remediation-"));
  vaultDir = join(dir, "vault");
  const made = await Vault.init(vaultDir, { custodian: "alice", keyBits: 2048 });
  vault = made.vault;
  identity = made.identityPem;
  alice = vault.authenticate(identity);
  await vault.ingestLiveFile(alice, Readable.from([bytes]), {
    caseId: CASE,
    name: "evil",
    expectedSha256: sha256,
    expectedSize: bytes.length,
    deviceId: DEVICE,
    source: `${DEVICE}:/tmp/evil`,
    labels: { kind: "quarantine" },
  });
});
afterAll(async () => {
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

describe("remediation facts", () => {
  it("refuses to state a quarantine item the case does not hold", async () => {
    await expect(vault.recordRemediation(alice, fact("C-none", "f".repeat(64)))).rejects.toMatchObject({
      code: "ERR_NOT_FOUND",
    });
    await expect(
      vault.recordRemediation(alice, { ...fact("C-other"), caseId: "IR-2" }),
    ).rejects.toMatchObject({
      code: "ERR_NOT_FOUND",
    });
  });

  it("is rebuilt from the log; another case's is not found, a second undo refused; both in the item's report", async () => {
    await vault.recordRemediation(alice, fact("C-1"));
    await expect(vault.recordRemediation(alice, fact("C-1"))).rejects.toMatchObject({
      code: "ERR_ALREADY_EXISTS",
    });
    await vault.close();
    vault = await Vault.open({ dir: vaultDir });
    alice = vault.authenticate(identity);
    expect(vault.remediationForUndo("C-1", CASE)).toMatchObject({ type: "file", target: "/tmp/evil" });
    expect(() => vault.remediationForUndo("C-1", "IR-2")).toThrow(
      expect.objectContaining({ code: "ERR_NOT_FOUND" }),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of await vault.quarantineBytes("C-1", sha256)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    const undone = {
      remediationId: "C-1",
      caseId: CASE,
      deviceId: DEVICE,
      sessionId: "S-2",
      cmdId: "C-2",
      steps: [],
    };
    await expect(vault.recordRemediationUndone(alice, { ...undone, caseId: "IR-2" })).rejects.toMatchObject({
      code: "ERR_NOT_FOUND",
    });
    await vault.recordRemediationUndone(alice, undone);
    await expect(vault.recordRemediationUndone(alice, undone)).rejects.toMatchObject({
      code: "ERR_REMEDIATION_REFUSED",
    });
    expect(() => vault.remediationForUndo("C-1", CASE)).toThrow(
      expect.objectContaining({ code: "ERR_REMEDIATION_REFUSED" }),
    );
    const report = await vault.report(alice, { caseId: CASE, id: sha256 });
    const actions = report.report.events.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["remediation.recorded", "remediation.undone"]));
    const ca = await readFile(join(vaultDir, "pki", "ca.pem"), "utf8");
    expect(verifyCustodyReport(report, { trustAnchors: [ca] }).events).toBe(report.report.events.length);
  });
});
