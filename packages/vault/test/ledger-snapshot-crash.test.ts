import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";
import { openVaultParts } from "../src/open.js";
import { liveWriters, newWriterVault, runWriterAndKill } from "./child/run-writer.js";

// A vault that stays open (a server) writes its ledger snapshot in the background as records come, while
// 32 callers go on; killed at any moment, it reopens from the newest snapshot it finished, and states
// exactly what a whole read of its log states.
const work = mkdtempSync(join(tmpdir(), "custody-ledger-snapshot-crash-"));

afterAll(() => {
  for (const child of liveWriters) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** Runs the writer with a snapshot every `every` records until it acknowledged `atLeast` ingests, then kills it. */
const runAndKill = (dir: string, identityFile: string, round: number, atLeast: number, every: number) =>
  runWriterAndKill(dir, [identityFile, work, String(round), String(every)], atLeast);

/** How many records an open of `dir` skips by going on from its snapshot (0: it read the whole log). */
async function opensFrom(dir: string): Promise<number> {
  const opened = await openVaultParts({ dir, ledgerSnapshotEvery: 0 }, "open");
  await opened.audit.close();
  opened.ctx.index?.close();
  opened.ctx.boundPolicy.close();
  return opened.ctx.ledger.restoredAt ?? 0;
}

async function listed(dir: string, identityPem: string) {
  const vault = await Vault.open({ dir, ledgerSnapshotEvery: 0 });
  try {
    const alice = vault.authenticate(identityPem);
    const items = await vault.list(alice);
    const check = (await vault.check(alice)).filter((result) => !result.ok);
    return {
      items: items
        .map((item) => ({ key: `${item.caseId} ${item.id}`, hold: item.legalHold }))
        .sort((a, b) => a.key.localeCompare(b.key)),
      check,
    };
  } finally {
    await vault.close();
  }
}

describe("ledger snapshots written while a vault stays open", () => {
  it("survive a kill at any moment: the next open goes on from one, and states what the whole log does", async () => {
    const { dir, identityFile, identityPem } = await newWriterVault(work);
    const acked: string[] = [];
    const skipped: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      acked.push(...(await runAndKill(dir, identityFile, round, 40 + round * 10, 25)));
      skipped.push(await opensFrom(dir));
      // never an items file the header does not name, beyond the one a kill may have left half-written
      expect(readdirSync(join(dir, "index")).filter((name) => name.endsWith(".items")).length).toBeLessThan(
        3,
      );
    }
    // each reopen went on from a snapshot the killed process wrote while its callers went on
    for (const [round, records] of skipped.entries()) expect(records, `round ${round}`).toBeGreaterThan(25);
    expect(skipped[2]).toBeGreaterThan(skipped[0] as number);

    const fromSnapshot = await listed(dir, identityPem);
    const whole = join(work, "whole");
    cpSync(dir, whole, { recursive: true });
    for (const name of readdirSync(join(whole, "index")))
      if (name.startsWith("ledger")) rmSync(join(whole, "index", name));
    expect(await opensFrom(whole)).toBe(0);
    expect(fromSnapshot).toEqual(await listed(whole, identityPem));
    // a kill between a store's commit and its record leaves an object the log never named: check says so
    for (const finding of fromSnapshot.check) expect(finding.message).toMatch(/has no ingest record/);
    const stated = new Map(fromSnapshot.items.map((item) => [item.key, item]));
    for (const line of acked.filter((l) => l.startsWith("ingest "))) {
      expect(stated.has(line.slice("ingest ".length)), line).toBe(true);
    }
    for (const line of acked.filter((l) => l.startsWith("hold "))) {
      expect(stated.get(line.slice("hold ".length))?.hold, line).toBe(true);
    }
  }, 240_000);
});
