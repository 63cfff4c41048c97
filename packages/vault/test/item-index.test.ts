import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The item index is derived data: built from the log's facts after they are durable, caught up from
// the log at open, rebuilt by `rebuildIndex`, and never believed over the log (check reports it).

const work = mkdtempSync(join(tmpdir(), "custody-index-"));
const dir = join(work, "vault");
const indexFile = join(dir, "index", "items.sqlite");
let vault: Vault;
let alice: AuthenticatedPrincipal;
let identityPem = "";

async function reopen(): Promise<void> {
  await vault.close();
  vault = await Vault.open({ dir });
  alice = vault.authenticate(identityPem);
}

async function ingest(name: string, caseId: string, labels: Record<string, string> = {}): Promise<string> {
  const file = join(work, name);
  writeFileSync(file, `${name}: ${Math.random()}\n`);
  return (await vault.ingest(alice, file, { caseId, labels })).id;
}

const ids = async (options: Parameters<Vault["list"]>[1]) =>
  (await vault.list(alice, options)).map((item) => item.id).sort();

const indexFindings = async () =>
  (await vault.check(alice)).filter((result) => result.id === "index:items" && !result.ok);

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  identityPem = created.identityPem;
  alice = vault.authenticate(identityPem);
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("item index", () => {
  const a: string[] = [];
  const b: string[] = [];

  it("lists by case and by label from the index, as the log states them", async () => {
    a.push(await ingest("a1", "CASE-A", { host: "ws-1" }));
    a.push(await ingest("a2", "CASE-A", { host: "ws-2" }));
    b.push(await ingest("b1", "CASE-B", { host: "ws-1" }));
    expect(existsSync(indexFile)).toBe(true);
    expect(await ids({ caseId: "CASE-A" })).toEqual([...a].sort());
    expect(await ids({ label: "host=ws-1" })).toEqual([a[0], b[0]].sort());
    expect(await ids({ label: "host" })).toHaveLength(3);
    expect(await ids({ caseId: "CASE-B", label: "host=ws-2" })).toEqual([]);
    expect(await ids({ since: "2000-01-01T00:00:00.000Z", caseId: "CASE-B" })).toEqual(b);
    expect(await ids({ until: "2000-01-01T00:00:00.000Z" })).toEqual([]);
    expect(await indexFindings()).toEqual([]);
  });

  it("catches up from the log at open when it was left behind (a crash after the append)", async () => {
    await vault.close();
    copyFileSync(indexFile, join(work, "behind.sqlite"));
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    a.push(await ingest("a3", "CASE-A"));
    await vault.close();
    // The index as it was before the last ingest: behind the log, as a crash between the two leaves it.
    for (const suffix of ["-wal", "-shm"]) rmSync(`${indexFile}${suffix}`, { force: true });
    copyFileSync(join(work, "behind.sqlite"), indexFile);
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ caseId: "CASE-A" })).toEqual([...a].sort());
    expect(await indexFindings()).toEqual([]);
  });

  it("is rebuilt at open when deleted", async () => {
    await vault.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${indexFile}${suffix}`, { force: true });
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ caseId: "CASE-A" })).toEqual([...a].sort());
  });

  it("is rebuilt at open when its file is not a database any more", async () => {
    await vault.close();
    for (const suffix of ["-wal", "-shm"]) rmSync(`${indexFile}${suffix}`, { force: true });
    writeFileSync(indexFile, "not a database ".repeat(512));
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ caseId: "CASE-A" })).toEqual([...a].sort());
    expect(await indexFindings()).toEqual([]);
    // the vault holds its index exclusively while open (no shared-memory file): read it once closed
    await vault.close();
    const db = new DatabaseSync(indexFile, { readOnly: true });
    expect(db.prepare("SELECT count(*) AS n FROM items").get()).toEqual({ n: a.length + b.length });
    db.close();
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
  });

  it("a row the log does not state is reported by check (ERR_INDEX_MISMATCH), left out of listings, and gone after a rebuild", async () => {
    await vault.close();
    const db = new DatabaseSync(indexFile);
    db.prepare(
      "INSERT INTO items VALUES ('CASE-A', ?, NULL, 'planted', 'file', 1, 5, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', ?, 0, NULL)",
    ).run("f".repeat(64), "0".repeat(64));
    db.prepare("UPDATE items SET legal_hold = 1 WHERE id = ?").run(a[0] as string);
    db.close();
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ caseId: "CASE-A" })).toEqual([...a].sort());
    const findings = await indexFindings();
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: "ERR_INDEX_MISMATCH" });
    expect(findings[0]?.message).toMatch(/no such item/);
    expect(findings[0]?.message).toMatch(/something else than the log/);
    const rebuilt = await vault.rebuildIndex(alice);
    expect(rebuilt.items).toBe(a.length + b.length);
    expect(await indexFindings()).toEqual([]);
  });

  it("a row deleted from the index file hides nothing from a listing by case; check reports it", async () => {
    await vault.close();
    const db = new DatabaseSync(indexFile);
    db.prepare("DELETE FROM items WHERE id = ?").run(a[0] as string);
    db.close();
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ caseId: "CASE-A" })).toEqual([...a].sort());
    expect((await indexFindings())[0]).toMatchObject({ code: "ERR_INDEX_MISMATCH" });
    await vault.rebuildIndex(alice);
  });

  it("a row moved to another device is left out of that device's listing and reported by check", async () => {
    await vault.close();
    const db = new DatabaseSync(indexFile);
    db.prepare("UPDATE items SET device_id = 'D-PLANTED' WHERE id = ?").run(a[0] as string);
    db.close();
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ deviceId: "D-PLANTED" })).toEqual([]);
    const findings = await indexFindings();
    expect(findings).toHaveLength(1);
    expect(findings[0]?.message).toMatch(/something else than the log/);
    await vault.rebuildIndex(alice);
    expect(await indexFindings()).toEqual([]);
  });

  it("an index from another history (its last fact is not the log's) is rebuilt at open", async () => {
    await vault.close();
    const db = new DatabaseSync(indexFile);
    const last = JSON.parse(
      (db.prepare("SELECT value FROM meta WHERE key = 'last'").get() as { value: string }).value,
    ) as { seq: number; hash: string };
    db.prepare("UPDATE meta SET value = ? WHERE key = 'last'").run(
      JSON.stringify({ seq: last.seq, hash: "0".repeat(64) }),
    );
    db.prepare("DELETE FROM items WHERE case_id = 'CASE-B'").run();
    db.close();
    vault = await Vault.open({ dir });
    alice = vault.authenticate(identityPem);
    expect(await ids({ caseId: "CASE-B" })).toEqual(b);
    expect(await indexFindings()).toEqual([]);
  });

  it("follows holds and purges as the log states them", async () => {
    await vault.hold(alice, { id: b[0] as string, caseId: "CASE-B" });
    await reopen();
    expect(await indexFindings()).toEqual([]);
  });
});
