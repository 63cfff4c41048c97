import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as triage from "@custody/triage";
import { Vault } from "@custody/vault";
import { afterAll, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-triage-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("exports exactly the public surface", () => {
  expect(Object.keys(triage).sort()).toEqual(["collectIntoVault", "collectPackage", "packageName"]);
  expect(triage.packageName("wks 042/x", new Date("2026-01-02T03:04:05.678Z"))).toBe(
    "wks_042_x-2026-01-02T030405678Z",
  );
});

it("loads no vault code for collectPackage: the module graph of the package's sources", async () => {
  for (const file of ["index.ts", "collect-package.ts", "collect-into-vault.ts"]) {
    const text = await readFile(new URL(`../src/${file}`, import.meta.url), "utf8");
    // Only a type import and the lazily loaded report renderer name the vault.
    const staticImports = text.match(/^import (?!type ).*from "@custody\/vault";$/gm) ?? [];
    expect(staticImports).toEqual([]);
  }
  const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
    dependencies: Record<string, string>;
  };
  expect(Object.keys(pkg.dependencies).sort()).toEqual([
    "@custody/archive",
    "@custody/collect",
    "@custody/core",
    "@custody/manifest",
  ]);
});

it("runs the whole job against a vault: signed with the collector key, ingested, reported", async () => {
  const { vault, identityPem } = await Vault.init(join(work, "vault"), { custodian: "lead", keyBits: 2048 });
  try {
    const lead = vault.authenticate(identityPem);
    const out = join(work, "wks-1.zip");
    const result = await triage.collectIntoVault(vault, lead, {
      out,
      caseId: "IR-7",
      only: ["SystemInformation"],
      report: true,
    });
    expect(result.file).toBe(out);
    expect(result.verification).toEqual({ ok: true, problems: [] });
    expect(result.item?.caseId).toBe("IR-7");
    expect(result.item?.acquisition.how).toBe("collect");
    expect(result.rows.find((r) => r.dataPoint === "SystemInformation")?.status).toBe("ok");
    expect(result.report?.json).toBe(join(work, "wks-1.custody-report.json"));
    const signed = await readFile(result.report?.json ?? "", "utf8");
    expect(signed).toContain(result.item?.id ?? "none");
    expect(await readFile(result.report?.html ?? "", "utf8")).toContain("<html");
    // The signing itself is on the record, before the ingest.
    const actions = (await vault.showAudit(lead)).map((r) => [r.action, r.target]);
    const signing = actions.findIndex(([, target]) => String(target).startsWith("package:"));
    const ingest = actions.findIndex(([a, t]) => a === "evidence.ingest" && String(t).startsWith("item:"));
    expect(signing).toBeGreaterThanOrEqual(0);
    expect(signing).toBeLessThan(ingest);
    // A second run to the same file is refused before anything is signed over it.
    await expect(
      triage.collectIntoVault(vault, lead, { out, caseId: "IR-7", only: ["SystemInformation"] }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) });
  } finally {
    await vault.close();
  }
});
