import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-ledger-index-"));
let vault: Vault;
let alice: AuthenticatedPrincipal;

beforeAll(async () => {
  const created = await Vault.init(join(work, "vault"), { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
});

afterAll(async () => {
  await vault.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe("finding an item by its full id or a prefix", () => {
  it("finds every case's copy, tells them apart by case, and finds a copy ingested again after its purge", async () => {
    const file = join(work, "same.txt");
    writeFileSync(file, "the same bytes in two cases\n");
    const inA = await vault.ingest(alice, file, { caseId: "A", retainDays: 0 });
    const inB = await vault.ingest(alice, file, { caseId: "B", retainDays: 0 });
    expect(inB.id).toBe(inA.id);
    for (const id of [inA.id, inA.id.slice(0, 8)]) {
      await expect(vault.show(alice, id)).rejects.toMatchObject({
        code: "ERR_INVALID_ARGUMENT",
        details: { cases: ["A", "B"] },
      });
      expect((await vault.show(alice, { id, caseId: "B" })).caseId).toBe("B");
    }
    expect(await vault.purge(alice, { id: inA.id, caseId: "A" })).toMatchObject({ status: "done" });
    // the purged copy is gone from lookups: the id alone now names B's copy
    expect((await vault.show(alice, inA.id)).caseId).toBe("B");
    const again = await vault.ingest(alice, file, { caseId: "A", retainDays: 0 });
    for (const id of [inA.id, inA.id.slice(0, 8)]) {
      const shown = await vault.show(alice, { id, caseId: "A" });
      expect(shown.storedAt).toBe(again.storedAt);
      await expect(vault.show(alice, id)).rejects.toMatchObject({ details: { cases: ["A", "B"] } });
    }
  });
});
