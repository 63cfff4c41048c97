import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The root README: "Run it again to collect again: the vault, its keys and the custodian identity are
// created only once." `./dev main` is `custody triage` from the checkout; this runs the built CLI twice.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-triage-twice-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function triage() {
  const env = { ...process.env };
  delete env.CUSTODY_VAULT;
  delete env.CUSTODY_IDENTITY;
  const run = spawnSync(process.execPath, [BIN, "triage", "--only", "UsersAndGroups", "--json"], {
    cwd: work,
    env,
    encoding: "utf8",
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { vaultCreated: boolean; package: string; itemId: string };
}

const KEPT = ["vault.json", "pki/ca.pem", "pki/ca.key", "identities/owner.pem"];
const digests = () =>
  KEPT.map((file) =>
    createHash("sha256")
      .update(readFileSync(join(work, ".custody", file)))
      .digest("hex"),
  );

describe("custody triage, run again", () => {
  it("runs the main job twice on one vault: the vault, its keys and the owner's identity are made once", () => {
    const first = triage();
    expect(first.vaultCreated).toBe(true);
    const before = digests();
    const second = triage();
    expect(second.vaultCreated).toBe(false);
    expect(second.package).not.toBe(first.package);
    expect(digests()).toEqual(before);
  });
});
