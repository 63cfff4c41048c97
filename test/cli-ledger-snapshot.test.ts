import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `custody` as a user runs it on a vault that has a ledger snapshot (written here by the library at
// every close; the CLI writes one every 10,000 records): it opens from the snapshot, refuses one
// forged without the seal key, and `check` finds an old record edited behind the snapshot.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-cli-snapshot-"));
const dir = join(work, "vault");
const identity = join(work, "alice.pem");

function custody(args: string[], vault = dir) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, "--vault", vault, "--identity", identity], {
      cwd: work,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const listed = async (vault = dir) => {
  const run = await custody(["list", "--case", "CASE-A", "--json"], vault);
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { name: string; legalHold: boolean }[])
    .map((item) => `${item.name}:${item.legalHold}`)
    .sort();
};

function copyOf(name: string): string {
  const copy = join(work, name);
  cpSync(dir, copy, { recursive: true });
  return copy;
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  await created.vault.close();
  writeFileSync(identity, created.identityPem, { mode: 0o600 });
  const vault = await Vault.open({ dir, ledgerSnapshotEvery: 1 });
  const alice = vault.authenticate(created.identityPem);
  for (const [name, caseId] of [
    ["a1.txt", "CASE-A"],
    ["a2.txt", "CASE-A"],
    ["b1.txt", "CASE-B"],
  ]) {
    writeFileSync(join(work, name as string), `${name}\n`);
    const item = await vault.ingest(alice, join(work, name as string), { caseId: caseId as string });
    if (name === "a2.txt") await vault.hold(alice, { id: item.id, caseId: "CASE-A" });
  }
  await vault.addHash(alice, { list: "known-bad", sha256: "ab".repeat(32), name: "bad.exe" });
  await vault.close();
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("custody on a vault with a ledger snapshot", () => {
  it("lists and checks from it", async () => {
    expect(await listed()).toEqual(["a1.txt:false", "a2.txt:true"]);
    const check = await custody(["check", "--json"]);
    expect(check.code, check.stderr).toBe(0);
  });

  it("refuses a snapshot edited without the seal key, says so, and states what the log states", async () => {
    const copy = copyOf("forged");
    const path = join(copy, "index", "ledger.snapshot");
    writeFileSync(path, readFileSync(path, "utf8").replace('"name":"bad.exe"', '"name":"ok!.exe"'));
    const run = await custody(["list", "--case", "CASE-A", "--json"], copy);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("the ledger snapshot is refused");
    expect(await listed(copy)).toEqual(["a1.txt:false", "a2.txt:true"]);
  });

  it("opens over an old record edited behind the snapshot; check and audit verify report it", async () => {
    const copy = copyOf("log-edit");
    const log = join(copy, "audit", "audit.log");
    const lines = readFileSync(log, "utf8").split("\n");
    const at = lines.findIndex((line) => line.includes('"action":"evidence.hold-set"'));
    lines[at] = (lines[at] as string).replace('"outcome":"allow"', '"outcome":"ALLOW"');
    writeFileSync(log, lines.join("\n"));
    expect(await listed(copy)).toEqual(["a1.txt:false", "a2.txt:true"]);
    const check = await custody(["check", "--json"], copy);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain("audit-log");
    expect(check.stdout).toContain("ERR_AUDIT_RECORD_INVALID");
    const verify = await custody(["audit", "verify", "--json"], copy);
    expect(verify.code).not.toBe(0);
  });
});
