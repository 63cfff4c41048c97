import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The README's main job, run as a person would: a fresh directory, no vault yet.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-triage-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function custody(...args: string[]) {
  const env = { ...process.env };
  delete env.CUSTODY_VAULT;
  delete env.CUSTODY_IDENTITY;
  return spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
}

describe("custody triage (the main job)", () => {
  it("creates the vault, collects, verifies, ingests and writes a custody report that verifies offline", () => {
    const run = custody("triage", "--only", "SystemInformation,UsersAndGroups", "--json");
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.vaultCreated).toBe(true);
    expect(result.packageVerified).toBe(true);
    expect(existsSync(result.custodyReport.html)).toBe(true);
    const ca = join(work, ".custody", "pki", "ca.pem");
    expect(custody("verify", result.package, "--ca", ca).status).toBe(0);
    expect(custody("report", "verify", result.custodyReport.json, "--ca", ca).status).toBe(0);
    const openssl = spawnSync(
      "sh",
      [
        "-c",
        `cd "${work}" && rm -rf x && mkdir x && cd x && unzip -q "${result.package}" && cd * && openssl cms -verify -binary -inform DER -in custody-manifest.json.p7s -content custody-manifest.json -CAfile "${ca}" -purpose any -out /dev/null && sha256sum -c --quiet manifest-sha256.txt`,
      ],
      { encoding: "utf8" },
    );
    expect(openssl.status, openssl.stderr).toBe(0);
  });

  it("collect --ingest reuses the vault and records the collection under the given case", () => {
    const run = custody("collect", "--ingest", "--only", "UsersAndGroups", "--case", "IR-2", "--json");
    expect(run.status, run.stderr).toBe(0);
    const { itemId } = JSON.parse(run.stdout);
    const shown = JSON.parse(custody("show", itemId, "--json").stdout);
    expect(shown).toMatchObject({ caseId: "IR-2", kind: "package", acquisition: { how: "collect" } });
    expect(shown.package.verified).toBe(true);
  });
});
