import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";

const CHILD = fileURLToPath(new URL("./child/concurrent-writer.ts", import.meta.url));
// The audit package's loader hooks let a plain `node` child run the workspace's TypeScript sources.
const REGISTER = fileURLToPath(new URL("../../audit/test/child/register.mjs", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "custody-vault-crash-"));
const live = new Set<ChildProcess>();

afterAll(() => {
  for (const child of live) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** Starts a writer and resolves with what it acknowledged once it has acknowledged `atLeast` ingests, then kills it. */
async function runAndKill(dir: string, identityFile: string, round: number, atLeast: number) {
  const flags = ["--experimental-transform-types", "--no-warnings", "--import", REGISTER];
  const child = spawn(process.execPath, [...flags, CHILD, dir, identityFile, work, String(round)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const acked: string[] = [];
  let partial = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      acked.push(...lines);
      if (acked.filter((line) => line.startsWith("ingest ")).length >= atLeast) resolve();
    });
    void exit.then((code) =>
      reject(new Error(`the writer exited (${code}) before it was killed: ${stderr}`)),
    );
  });
  child.kill("SIGKILL");
  expect(await exit).toBe(null);
  live.delete(child);
  // A line cut by the kill (no newline yet) was never acknowledged.
  return acked;
}

describe("a vault process killed in the middle of concurrent writes", () => {
  it("loses no acknowledged ingest or hold, and reopens to a log that verifies", async () => {
    const dir = join(work, "vault");
    const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    await created.vault.close();
    const identityFile = join(work, "alice.pem");
    writeFileSync(identityFile, created.identityPem, { mode: 0o600 });
    const acked: string[] = [];
    for (let round = 0; round < 4; round += 1) {
      acked.push(...(await runAndKill(dir, identityFile, round, 20 + round * 7)));
    }
    const vault = await Vault.open({ dir });
    try {
      const alice = vault.authenticate(created.identityPem);
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
