import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// An existing --out is refused with ERR_ALREADY_EXISTS (exit 5) before the command does anything:
// no certificate issued, no read or report recorded, no vault created, no package started.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-out-"));
const vault = join(work, "vault");
const alice = join(work, "alice.pem");
const taken = join(work, "taken.bin");
const TAKEN = "already here\n";

function custody(args: string[], env: Record<string, string> = {}) {
  const full = { ...process.env, CUSTODY_VAULT: vault, CUSTODY_IDENTITY: alice, ...env };
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env: full, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file of the vault folder and its digest: what "nothing changed" means. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    files[relative(dir, path)] = createHash("sha256").update(readFileSync(path)).digest("hex");
  }
  return files;
}

function expectRefused(result: ReturnType<typeof custody>): void {
  expect(result.stderr).toMatch(/^custody: ERR_ALREADY_EXISTS: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.code).toBe(5);
  expect(readFileSync(taken, "utf8")).toBe(TAKEN);
}

let item = "";

beforeAll(() => {
  const init = custody(["init", "--name", "alice", "--identity-out", alice]);
  expect(init.code, init.stderr).toBe(0);
  writeFileSync(join(work, "evidence.bin"), "evidence\n");
  const ingested = custody(["ingest", join(work, "evidence.bin"), "--case", "A", "--json"]);
  expect(ingested.code, ingested.stderr).toBe(0);
  item = JSON.parse(ingested.stdout).id;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("an existing --out", () => {
  it("access issue-identity: refused before the vault issues a certificate", () => {
    writeFileSync(taken, TAKEN);
    const before = snapshot(vault);
    expectRefused(custody(["access", "issue-identity", "bob", "--out", taken]));
    expect(snapshot(vault)).toEqual(before);
  });

  it("access issue-identity: a key file that cannot be created stops it before the vault is asked", () => {
    writeFileSync(taken, TAKEN);
    const before = snapshot(vault);
    const result = custody(["access", "issue-identity", "bob", "--out", join(taken, "bob.pem")]);
    expect(result.stderr).toMatch(/^custody: ERR_/);
    expect(result.code).not.toBe(0);
    expect(snapshot(vault)).toEqual(before);
    const issued = custody(["access", "issue-identity", "bob", "--out", join(work, "bob.pem")]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(readFileSync(join(work, "bob.pem"), "utf8")).toContain("PRIVATE KEY");
  });

  it("get: refused before the read is recorded", () => {
    writeFileSync(taken, TAKEN);
    const before = snapshot(vault);
    expectRefused(custody(["get", item, "--out", taken]));
    expect(snapshot(vault)).toEqual(before);
  });

  it("report: refused before the report is made and recorded", () => {
    writeFileSync(taken, TAKEN);
    const before = snapshot(vault);
    expectRefused(custody(["report", item, "--out", taken]));
    expect(snapshot(vault)).toEqual(before);
  });

  it("init --identity-out: refused before the vault is created", () => {
    writeFileSync(taken, TAKEN);
    const other = join(work, "other-vault");
    expectRefused(custody(["init", "--vault", other, "--identity-out", taken]));
    expect(existsSync(other)).toBe(false);
  });

  it("collect: refused before a vault is created or anything collected", () => {
    writeFileSync(taken, TAKEN);
    const other = join(work, "collect-vault");
    expectRefused(custody(["collect", "--only", "Processes", "--out", taken], { CUSTODY_VAULT: other }));
    expect(existsSync(other)).toBe(false);
    const before = snapshot(vault);
    expectRefused(custody(["collect", "--ingest", "--only", "Processes", "--out", taken]));
    expect(snapshot(vault)).toEqual(before);
  });

  it("package: refused before the signer is loaded or the folder read", () => {
    writeFileSync(taken, TAKEN);
    expectRefused(custody(["package", work, "--out", taken, "--keys-dir", join(work, "no-keys")]));
  });
});
