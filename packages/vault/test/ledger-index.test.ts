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

describe("listing one case", () => {
  it("lists exactly that case's live items, a copy ingested again after its purge once, as the vault-wide listing does", async () => {
    const ids = (items: { caseId: string; id: string }[]) => items.map((i) => `${i.caseId}/${i.id}`).sort();
    const ingested: Record<string, string[]> = { L1: [], L2: [] };
    for (const [n, caseId] of ["L1", "L1", "L1", "L2", "L2"].entries()) {
      const file = join(work, `listed-${n}.txt`);
      writeFileSync(file, `listed item ${n}\n`);
      ingested[caseId]?.push((await vault.ingest(alice, file, { caseId, retainDays: 0 })).id);
    }
    const [first] = ingested.L1 as string[];
    expect(await vault.purge(alice, { id: first as string, caseId: "L1" })).toMatchObject({ status: "done" });
    expect(ids(await vault.list(alice, { caseId: "L1" }))).toEqual(
      ids((ingested.L1 as string[]).slice(1).map((id) => ({ caseId: "L1", id }))),
    );
    const file = join(work, "listed-0.txt");
    const again = await vault.ingest(alice, file, { caseId: "L1", retainDays: 0 });
    const listed = await vault.list(alice, { caseId: "L1" });
    expect(listed.filter((item) => item.id === first)).toHaveLength(1);
    expect(listed.find((item) => item.id === first)?.storedAt).toBe(again.storedAt);
    for (const caseId of ["L1", "L2"]) {
      const everywhere = (await vault.list(alice)).filter((item) => item.caseId === caseId);
      expect(ids(await vault.list(alice, { caseId }))).toEqual(ids(everywhere));
    }
    expect(await vault.list(alice, { caseId: "no-such-case" })).toEqual([]);
  });
});
