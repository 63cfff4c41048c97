import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vault } from "@custody/vault";
import { afterAll, expect, it } from "vitest";
import { triageIntoVault } from "../src/triage.js";

const work = mkdtempSync(join(tmpdir(), "custody-soc-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("collects this machine into the vault through the public APIs, verified, with nothing left outside", async () => {
  const { vault, identityPem } = await Vault.init(join(work, "vault"), {
    custodian: "soc-lead",
    keyBits: 2048,
  });
  try {
    const lead = vault.authenticate(identityPem);
    const events: Record<string, unknown>[] = [];
    const { item, summary } = await triageIntoVault(vault, lead, {
      caseId: "IR-1",
      only: ["SystemInformation", "UsersAndGroups"],
      onEvent: (e) => events.push(e),
    });
    expect(item.kind).toBe("package");
    expect(item.package?.verified).toBe(true);
    expect(item.acquisition.how).toBe("collect");
    expect(summary.find((r) => r.dataPoint === "SystemInformation")?.status).toBe("ok");
    expect(events.some((e) => e.event === "ingested")).toBe(true);
    const report = await vault.report(lead, item.id);
    expect(report.report.events.map((e) => e.action)).toContain("evidence.ingest");
  } finally {
    await vault.close();
  }
});
