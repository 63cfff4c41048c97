import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, uniqueContainer, useAzurite } from "../packages/azure/test/azurite.js";

// A vault whose evidence lives in Azure Blob Storage (the run's shared Azurite), driven through the CLI.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-cli-azure-"));
let azurite: AzuriteInstance;
const CONTAINER = uniqueContainer("evidence");

function custody(...args: string[]) {
  const env = { ...process.env, CUSTODY_VAULT: join(work, "vault"), AZ_EVIDENCE: azurite.connectionString };
  return spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
}

beforeAll(async () => {
  azurite = await useAzurite();
});

afterAll(async () => {
  await azurite.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("custody with an Azure Blob store", () => {
  it("ingests, reads back verified and checks evidence kept in a container; the secret never reaches disk", () => {
    const init = custody(
      "init",
      "--name",
      "alice",
      "--store",
      "azure",
      "--container",
      CONTAINER,
      "--connection-string-env",
      "AZ_EVIDENCE",
      "--create-container",
    );
    expect(init.status, init.stderr).toBe(0);
    expect(readFileSync(join(work, "vault", "vault.json"), "utf8")).not.toContain("AccountKey");
    writeFileSync(join(work, "memory.bin"), Buffer.alloc(3 * 1024 * 1024 + 17, 7));
    const ingest = custody("ingest", join(work, "memory.bin"), "--case", "IR-5", "--json");
    expect(ingest.status, ingest.stderr).toBe(0);
    const { id } = JSON.parse(ingest.stdout);
    expect(custody("get", id, "--out", join(work, "copy.bin")).status).toBe(0);
    expect(readFileSync(join(work, "copy.bin")).equals(readFileSync(join(work, "memory.bin")))).toBe(true);
    expect(custody("check", id).status).toBe(0);
    expect(custody("ingest", join(work, "memory.bin"), "--case", "IR-5").status).toBe(5);
  });

  it("says which variable is missing instead of falling back to anything", () => {
    const env = { ...process.env, CUSTODY_VAULT: join(work, "vault") };
    delete env.AZ_EVIDENCE;
    const run = spawnSync(process.execPath, [BIN, "list"], { cwd: work, env, encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("AZ_EVIDENCE");
  });
});
