import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isCustodyError } from "@custody/core";
import { type AuthenticatedPrincipal, type GrantRequest, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-vault-conc-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;
let alicePem = "";

function evidence(name: string, text: string): string {
  const file = join(work, name);
  writeFileSync(file, text);
  return file;
}

const codeOf = (error: unknown) => (isCustodyError(error) ? error.code : String(error));

/** What the vault states, through its public API only: items with their protection, and the policy. */
async function stateOf(v: Vault, who: AuthenticatedPrincipal) {
  const items = (await v.list(who))
    .map((i) => ({ id: i.id, caseId: i.caseId, legalHold: i.legalHold, retainUntil: i.retainUntil ?? null }))
    .sort((a, b) => `${a.caseId}/${a.id}`.localeCompare(`${b.caseId}/${b.id}`));
  const access = await v.listAccess(who);
  return { items, version: access.version, hash: access.hash, grants: access.grants };
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alicePem = created.identityPem;
  alice = vault.authenticate(alicePem);
});

afterAll(async () => {
  await vault.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe("one vault, many concurrent callers", () => {
  it("64 mixed operations at once: every acknowledged ingest and grant is stated, the log verifies, a reopen agrees", async () => {
    const seeded = [];
    for (let i = 0; i < 8; i += 1) {
      seeded.push(await vault.ingest(alice, evidence(`seed-${i}.txt`, `seed ${i}\n`), { caseId: "C-SEED" }));
    }
    const revocable: GrantRequest[] = [];
    for (let i = 0; i < 6; i += 1) {
      const grant = { name: `old-${i}`, role: "investigator", scope: `case:C-OLD-${i}` };
      await vault.grant(alice, grant);
      revocable.push(grant);
    }
    const ops: { kind: string; run: () => Promise<unknown> }[] = [];
    for (let i = 0; i < 20; i += 1) {
      const file = evidence(`new-${i}.txt`, `new evidence ${i}\n`);
      ops.push({ kind: `ingest:${i}`, run: () => vault.ingest(alice, file, { caseId: `C-${i % 4}` }) });
    }
    // The same bytes into the same case four times at once: exactly one may store and state it.
    const twin = evidence("twin.txt", "the same bytes\n");
    for (let i = 0; i < 4; i += 1) {
      ops.push({ kind: "twin", run: () => vault.ingest(alice, twin, { caseId: "C-TWIN" }) });
    }
    for (let i = 0; i < 12; i += 1) {
      const grant = { name: `analyst-${i}`, role: "investigator", scope: `case:C-${i % 4}` };
      ops.push({ kind: `grant:${i}`, run: () => vault.grant(alice, grant) });
    }
    for (const grant of revocable) ops.push({ kind: "revoke", run: () => vault.revoke(alice, grant) });
    for (const item of seeded) ops.push({ kind: "hold", run: () => vault.hold(alice, item.id) });
    for (let i = 0; i < 14; i += 1) {
      const item = seeded[i % seeded.length];
      if (item === undefined) throw new Error("no seeded item");
      const reads = [
        () => vault.show(alice, item.id),
        () => vault.list(alice),
        async () => {
          const read = await vault.read(alice, item.id);
          await pipeline(read.stream, new Writable({ write: (_c, _e, done) => done() }));
          return read.computedSha256();
        },
        () => vault.report(alice, item.id),
        () => vault.listAccess(alice),
      ];
      ops.push({ kind: "read", run: reads[i % reads.length] as () => Promise<unknown> });
    }
    expect(ops).toHaveLength(64);
    const settled = await Promise.allSettled(ops.map((op) => op.run()));
    const outcome = settled.map((s, i) => ({ kind: ops[i]?.kind ?? "", s }));

    const failures = outcome.filter((o) => o.s.status === "rejected" && o.kind !== "twin");
    expect(failures.map((f) => `${f.kind}: ${f.s.status === "rejected" ? codeOf(f.s.reason) : ""}`)).toEqual(
      [],
    );
    const twins = outcome.filter((o) => o.kind === "twin");
    expect(twins.filter((t) => t.s.status === "fulfilled")).toHaveLength(1);
    for (const t of twins.filter((t) => t.s.status === "rejected")) {
      expect(t.s.status === "rejected" && codeOf(t.s.reason)).toBe("ERR_ALREADY_EXISTS");
    }

    const live = await stateOf(vault, alice);
    for (let i = 0; i < 20; i += 1) {
      const acked = outcome.find((o) => o.kind === `ingest:${i}`)?.s;
      const id = acked?.status === "fulfilled" ? (acked.value as { id: string }).id : "";
      expect(live.items.some((item) => item.id === id && item.caseId === `C-${i % 4}`)).toBe(true);
    }
    for (let i = 0; i < 12; i += 1) {
      expect(live.grants.some((g) => g.principal === `analyst-${i}` && g.scope === `case:C-${i % 4}`)).toBe(
        true,
      );
    }
    for (const grant of revocable) expect(live.grants.some((g) => g.principal === grant.name)).toBe(false);
    for (const item of seeded) expect(live.items.find((i) => i.id === item.id)?.legalHold).toBe(true);
    expect((await vault.check(alice)).filter((r) => !r.ok)).toEqual([]);
    expect((await vault.verifyAudit(alice)).ok).toBe(true);

    await vault.close();
    vault = await Vault.open({ dir });
    alice = vault.authenticate(alicePem);
    expect(await stateOf(vault, alice)).toEqual(live);
  }, 240_000);

  it("races holds and releases of one item: the store's protection always matches the log's", async () => {
    const item = await vault.ingest(alice, evidence("contested.txt", "contested\n"), { caseId: "C-RACE" });
    const ops = [];
    for (let i = 0; i < 200; i += 1) {
      ops.push(i % 2 === 0 ? vault.hold(alice, item.id) : vault.release(alice, item.id));
    }
    const settled = await Promise.allSettled(ops);
    for (const s of settled) {
      // A release finds the item not held when a release ran just before it: refused, nothing changed.
      if (s.status === "rejected") expect(codeOf(s.reason)).toBe("ERR_INVALID_ARGUMENT");
    }
    expect((await vault.check(alice, item.id)).every((r) => r.ok)).toBe(true);
    expect((await vault.verifyAudit(alice)).ok).toBe(true);
  }, 120_000);

  it("a grant and the decisions around it: a reader never sees a policy file the log does not state yet", async () => {
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 16; i += 1) {
      ops.push(vault.grant(alice, { name: `reader-${i}`, role: "auditor", scope: "*" }));
      for (let j = 0; j < 8; j += 1) ops.push(vault.whoami(alice), vault.listAccess(alice));
    }
    const settled = await Promise.allSettled(ops);
    expect(
      settled
        .filter((s) => s.status === "rejected")
        .map((s) => s.status === "rejected" && `${codeOf(s.reason)} ${(s.reason as Error).message}`),
    ).toEqual([]);
    const access = await vault.listAccess(alice);
    for (let i = 0; i < 16; i += 1)
      expect(access.grants.some((g) => g.principal === `reader-${i}`)).toBe(true);
  }, 120_000);
});
