import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A vault-wide check decides its items by groups (their decision records share one durable write) and
// examines a few at once: every item still gets its own decision, a damaged one its own failure right
// after, and the results come in the ledger's order, wherever a damaged item falls in its group.
const work = mkdtempSync(join(tmpdir(), "custody-check-groups-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;
const ids: string[] = [];
const ITEMS = 40;
const DAMAGED = [0, 3, 15, 16, 17, 39];

function dataFile(id: string): string {
  const items = join(dir, "store", "objects", "items");
  for (const bucket of readdirSync(items)) {
    if (readdirSync(join(items, bucket)).includes(`=${id}`)) return join(items, bucket, `=${id}`, "data");
  }
  throw new Error(`no stored object for ${id}`);
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
  for (let i = 0; i < ITEMS; i++) {
    const file = join(work, `file-${i}.txt`);
    writeFileSync(file, `evidence number ${i}\n`);
    ids.push((await vault.ingest(alice, file, { caseId: "GROUPS" })).id);
  }
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("a vault-wide check of more items than it decides at once", () => {
  it("reports each item in the ledger's order, with one decision each and a failure after each damaged one", async () => {
    for (const at of DAMAGED) {
      const path = dataFile(ids[at] as string);
      chmodSync(path, 0o644);
      const bytes = await readFile(path);
      bytes[0] = (bytes[0] as number) ^ 0x01; // same length, one bit changed
      writeFileSync(path, bytes);
    }
    const before = (await readFile(join(dir, "audit", "audit.log"), "utf8")).trim().split("\n").length;
    const results = (await vault.check(alice)).filter((result) => result.caseId === "GROUPS");
    expect(results.map((result) => result.id)).toEqual(ids);
    expect(results.flatMap((result, at) => (result.ok ? [] : [at]))).toEqual(DAMAGED);
    for (const at of DAMAGED) expect(results[at]).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });

    const records = (await readFile(join(dir, "audit", "audit.log"), "utf8"))
      .trim()
      .split("\n")
      .slice(before)
      .map((line) => JSON.parse(line) as { action: string; outcome: string; target: string });
    const checks = records.filter((record) => record.action === "evidence.check");
    for (const [at, id] of ids.entries()) {
      const about = checks.flatMap((record, seq) => (record.target.endsWith(id) ? [{ ...record, seq }] : []));
      const outcomes = about.map((record) => record.outcome);
      expect(outcomes).toEqual(DAMAGED.includes(at) ? ["allow", "error"] : ["allow"]);
    }
  });
});
