import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";
import { liveWriters, newWriterVault, runWriterAndKill } from "./child/run-writer.js";

const work = mkdtempSync(join(tmpdir(), "custody-vault-crash-"));

afterAll(() => {
  for (const child of liveWriters) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** Runs the writer until it has acknowledged `atLeast` ingests, then kills it; what it acknowledged. */
const runAndKill = (dir: string, identityFile: string, round: number, atLeast: number) =>
  runWriterAndKill(dir, [identityFile, work, String(round)], atLeast);

describe("a vault process killed in the middle of concurrent writes", () => {
  it("loses no acknowledged ingest or hold, and reopens to a log that verifies", async () => {
    const { dir, identityFile, identityPem } = await newWriterVault(work);
    const acked: string[] = [];
    for (let round = 0; round < 4; round += 1) {
      acked.push(...(await runAndKill(dir, identityFile, round, 20 + round * 7)));
    }
    const vault = await Vault.open({ dir });
    try {
      const alice = vault.authenticate(identityPem);
      const items = await vault.list(alice);
      const stated = new Map(items.map((item) => [`${item.caseId} ${item.id}`, item]));
      const ingests = acked.filter((line) => line.startsWith("ingest "));
      expect(ingests.length).toBeGreaterThanOrEqual(20 + 27 + 34 + 41);
      for (const line of ingests) expect(stated.has(line.slice("ingest ".length)), line).toBe(true);
      for (const line of acked.filter((l) => l.startsWith("hold "))) {
        expect(stated.get(line.slice("hold ".length))?.legalHold, line).toBe(true);
      }
      const report = await vault.verifyAudit(alice);
      expect(report.problem).toBeUndefined();
      expect(report.ok).toBe(true);
    } finally {
      await vault.close();
    }
  }, 240_000);
});
