import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Vault } from "@custody/vault";
import { expect } from "vitest";

// Runs child/concurrent-writer.ts (32 callers ingesting and holding) and kills it with SIGKILL once it
// has acknowledged enough ingests; the crash tests reopen what it left.
const CHILD = fileURLToPath(new URL("./concurrent-writer.ts", import.meta.url));
// The audit package's loader hooks let a plain `node` child run the workspace's TypeScript sources.
const REGISTER = fileURLToPath(new URL("../../../audit/test/child/register.mjs", import.meta.url));

/** Children still running: a test's afterAll kills them. */
export const liveWriters = new Set<ChildProcess>();

/**
 * Starts a writer on `dir` and resolves with the lines it acknowledged once it has acknowledged
 * `atLeast` ingests, then kills it. `args`: the writer's arguments after the vault's folder.
 */
export async function runWriterAndKill(dir: string, args: string[], atLeast: number): Promise<string[]> {
  const flags = ["--experimental-transform-types", "--no-warnings", "--import", REGISTER];
  const child = spawn(process.execPath, [...flags, CHILD, dir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  liveWriters.add(child);
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
  liveWriters.delete(child);
  // A line cut by the kill (no newline yet) was never acknowledged.
  return acked;
}

/** A new vault in `work/vault` for the writer, and alice's identity in `work/alice.pem`. */
export async function newWriterVault(work: string) {
  const dir = join(work, "vault");
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  await created.vault.close();
  const identityFile = join(work, "alice.pem");
  writeFileSync(identityFile, created.identityPem, { mode: 0o600 });
  return { dir, identityFile, identityPem: created.identityPem };
}
