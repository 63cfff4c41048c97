import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// packages/cli/README.md: `access issue-identity` writes the key after the vault issued the certificate;
// a disk that fills in between leaves an issued certificate without its key: the file is removed and the
// error is ERR_STORAGE_FULL. Played with the key file on a real, full tmpfs.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-identity-full-"));
const vault = join(work, "vault");
const alice = join(work, "alice.pem");
const disk = join(work, "disk");
let mounted = false;
afterAll(() => {
  try {
    if (mounted) execFileSync("umount", ["-l", disk], { stdio: "ignore" });
  } catch {}
  rmSync(work, { recursive: true, force: true });
});

function custody(args: string[]) {
  const env = { ...process.env, CUSTODY_VAULT: vault, CUSTODY_IDENTITY: alice };
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Fills a small tmpfs to its last byte; false where this machine does not allow mounting one. */
function fullDisk(): boolean {
  mkdirSync(disk);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", disk], { stdio: "ignore" });
  } catch {
    return false;
  }
  mounted = true;
  try {
    writeFileSync(join(disk, "filler"), Buffer.alloc(1024 * 1024));
  } catch {}
  return true;
}

describe("access issue-identity on a disk that is full", () => {
  it("removes the key file it could not write, exits 7 with ERR_STORAGE_FULL, and the certificate is revocable", (test) => {
    const init = custody(["init", "--name", "alice", "--identity-out", alice]);
    expect(init.code, init.stderr).toBe(0);
    if (!fullDisk()) return test.skip("needs permission to mount a tmpfs");
    const out = join(disk, "bob.pem");
    const result = custody(["access", "issue-identity", "bob", "--out", out]);
    expect(result.stderr).toMatch(/^custody: ERR_STORAGE_FULL: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(7);
    expect(existsSync(out)).toBe(false);
    const revoked = custody(["access", "revoke-identity", "bob"]);
    expect(revoked.code, revoked.stderr).toBe(0);
  });
});
