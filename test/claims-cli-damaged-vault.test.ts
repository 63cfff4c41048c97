import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// packages/cli/README.md: a vault file that does not parse is ERR_INTEGRITY_MISMATCH unless the library
// gave it a code of its own: never ERR_INTERNAL, never a stack. Every file of a real vault is damaged in
// turn (from an honest copy) and the vault listed.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-damaged-vault-"));
const honest = join(work, "honest");
const vault = join(work, "vault");
const identity = join(work, "alice.pem");

// Known and reported, not yet fixed: a damaged certificate PEM of the vault's PKI reaches the CLI as an
// OpenSSL decoding error, which it reports as ERR_INTERNAL. When that is fixed this list must go.
const KNOWN_UNCODED = ["pki/ca.pem", "pki/signers/*.pem"];

function custody(args: string[], dir = vault) {
  const env = { ...process.env, CUSTODY_VAULT: dir, CUSTODY_IDENTITY: identity };
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

beforeAll(() => {
  expect(custody(["init", "--name", "alice", "--identity-out", identity], honest).code).toBe(0);
  writeFileSync(join(work, "evidence.txt"), "evidence\n");
  const ingested = custody(["ingest", join(work, "evidence.txt"), "--case", "A"], honest);
  expect(ingested.code, ingested.stderr).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a vault file damaged on disk", () => {
  it("gives a coded error and no stack, whichever file it is (but the known PEM cases)", () => {
    const refused: string[] = [];
    const uncoded: string[] = [];
    for (const file of files(honest)) {
      rmSync(vault, { recursive: true, force: true });
      cpSync(honest, vault, { recursive: true });
      writeFileSync(join(vault, file), "{not json, nor PEM");
      const r = custody(["list"]);
      if (r.code === 0) continue;
      const name = file.replace(/^pki\/signers\/[0-9A-F]+\.pem$/, "pki/signers/*.pem");
      refused.push(name);
      const coded = /^custody: ERR_[A-Z_]+: /.test(r.stderr) && !r.stderr.startsWith("custody: ERR_INTERNAL");
      if (!coded || /\n\s+at /.test(r.stderr)) uncoded.push(name);
    }
    expect(uncoded).toEqual(KNOWN_UNCODED);
    // the files every command reads were among those damaged and refused
    for (const needed of [
      "vault.json",
      "audit/audit.log",
      "policy/000001.json",
      "store/custody-store.json",
    ]) {
      expect(refused).toContain(needed);
    }
  }, 300_000);
});
