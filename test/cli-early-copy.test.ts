import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `custody ingest FILE` on a local vault copies FILE into the vault's store while the command loads and
// the vault opens (the store takes that copy instead of making its own). Whatever the command's end, a
// stored item, a refusal, a denial, a usage error, a server named instead, nothing of it stays behind.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-early-copy-"));
const vault = join(work, "vault");
const storeTmp = join(vault, "store", "tmp");
const bytes = randomBytes(48 * 1024 * 1024);
const evidence = join(work, "memory.bin");

function custody(args: string[], who = "alice", extraEnv: NodeJS.ProcessEnv = {}) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CUSTODY_VAULT: vault,
    CUSTODY_IDENTITY: join(work, `${who}.pem`),
  };
  delete env.CUSTODY_SERVER;
  Object.assign(env, extraEnv);
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  const init = custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]);
  expect(init.code, init.stderr).toBe(0);
  const bob = custody(["access", "issue-identity", "bob", "--out", join(work, "bob.pem")]);
  expect(bob.code, bob.stderr).toBe(0);
  writeFileSync(evidence, bytes);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("custody ingest on a local vault, with the file copied while the vault opens", () => {
  it("stores the file under its sha256 and leaves nothing in the store's staging area", () => {
    const run = custody(["ingest", "memory.bin", "--case", "EC-1", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const item = JSON.parse(run.stdout);
    expect(item.id).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(item.size).toBe(bytes.length);
    expect(readdirSync(storeTmp)).toEqual([]);
    const check = custody(["check", item.id, "--case", "EC-1", "--json"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it("leaves nothing behind when the ingest is refused, denied, or misused after the copy began", () => {
    const refused = custody(["ingest", evidence, "--case", "EC-2", "--kind", "package"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("ERR_PACKAGE_INVALID");
    const denied = custody(["ingest", evidence, "--case", "EC-2"], "bob");
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("ERR_ACCESS_DENIED");
    const badCase = custody(["ingest", evidence, "--case", "not a case"]);
    expect(badCase.code).not.toBe(0);
    const noCase = custody(["ingest", evidence]);
    expect(noCase.code).not.toBe(0);
    expect(readdirSync(storeTmp)).toEqual([]);
    const list = custody(["list", "--case", "EC-2", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it("leaves nothing in the local store when a server is named instead", () => {
    const remote = custody(["ingest", evidence, "--case", "EC-3"], "alice", {
      CUSTODY_SERVER: "https://127.0.0.1:9",
    });
    expect(remote.code).not.toBe(0);
    expect(readdirSync(storeTmp)).toEqual([]);
  });
});
