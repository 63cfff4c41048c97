import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditRecord, openFileAuditLog, verifyAuditLog } from "@custody/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

const CHILD = fileURLToPath(new URL("./child/appender.ts", import.meta.url));
const REGISTER = fileURLToPath(new URL("./child/register.mjs", import.meta.url));
const live = new Set<ChildProcess>();
let pki: TestPki;
let keyFile: string;
let certFile: string;
let base: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  pki = await createTestPki();
  const temp = await tempDir("processes");
  ({ dir: base, remove } = temp);
  keyFile = join(base, "signer.key");
  certFile = join(base, "signer.pem");
  await writeFile(keyFile, pki.leaf.keyPem, { mode: 0o600 });
  await writeFile(certFile, pki.leaf.certificatePem);
});
afterAll(async () => {
  for (const child of live) child.kill("SIGKILL");
  await remove();
});

interface Run {
  child: ChildProcess;
  /** Every "<seq> <hash>" the child printed after an append resolved. */
  acked: Map<number, string>;
  firstAck: Promise<void>;
  exit: Promise<number | null>;
}

function startAppender(dir: string, mode: "flood" | "flood-blocking" | "rounds"): Run {
  // Sources run as they are: Node transforms the types away, the hooks resolve the workspace packages.
  const flags = ["--experimental-transform-types", "--no-warnings", "--import", REGISTER];
  const child = spawn(process.execPath, [...flags, CHILD, dir, keyFile, certFile, mode, "5"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const acked = new Map<number, string>();
  let partial = "";
  let stderr = "";
  let signalFirst: () => void = () => {};
  const firstAck = new Promise<void>((resolve) => {
    signalFirst = resolve;
  });
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const [seq, hash] = line.split(" ");
      acked.set(Number(seq), hash as string);
      signalFirst();
    }
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exit = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      signalFirst();
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    }),
  );
  return { child, acked, firstAck, exit };
}

async function readLog(dir: string): Promise<Map<number, AuditRecord>> {
  // Opening as a writer repairs whatever the last kill left (a torn line, half a checkpoint).
  const log = await openFileAuditLog({ dir, signer: pki.signer });
  const records = new Map<number, AuditRecord>();
  for await (const record of log.read()) records.set(record.seq, record);
  await log.close();
  return records;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kills a flooding writer `kills` times; every record it acknowledged must be stored, the log must verify. */
async function killRepeatedly(dir: string, mode: "flood" | "flood-blocking", kills: number): Promise<void> {
  const acked = new Map<number, string>();
  for (let round = 0; round < kills; round += 1) {
    const run = startAppender(dir, mode);
    // Most kills land mid-flood; every third lands at a random point of start-up or recovery.
    if (round % 3 === 2) await sleep(Math.random() * 400);
    else {
      await run.firstAck;
      await sleep(Math.random() * 150);
    }
    run.child.kill("SIGKILL");
    expect(await run.exit).toBe(null);
    for (const [seq, hash] of run.acked) {
      // A record acknowledged once must never be acknowledged with other content.
      if (acked.has(seq)) expect(acked.get(seq)).toBe(hash);
      acked.set(seq, hash);
    }
  }
  const records = await readLog(dir);
  expect(acked.size).toBeGreaterThan(kills);
  for (const [seq, hash] of acked) expect(records.get(seq)?.hash, `record ${seq}`).toBe(hash);
  const report = await verifyAuditLog({ dir }, { trust: pki.trust });
  expect(report.problem).toBeUndefined();
  expect(report.records).toBe(records.size);
}

describe("audit log under real processes", () => {
  it("survives dozens of SIGKILLs mid-append: every acknowledged record is present and the log verifies", async () => {
    await killRepeatedly(join(base, "crash"), "flood", 24);
  }, 180_000);

  it("with blockingWrites, survives SIGKILLs mid-append: every acknowledged record is present and the log verifies", async () => {
    await killRepeatedly(join(base, "crash-blocking"), "flood-blocking", 12);
  }, 180_000);

  it('with blockingWrites "when-alone", survives SIGKILLs mid-append: every acknowledged record is present and the log verifies', async () => {
    await killRepeatedly(join(base, "crash-alone"), "flood-alone", 12);
  }, 180_000);

  it("two processes sharing one log take turns: no fork, no lost record", async () => {
    const dir = join(base, "two");
    const runs = [startAppender(dir, "rounds"), startAppender(dir, "rounds")];
    expect(await Promise.all(runs.map((run) => run.exit))).toEqual([0, 0]);
    const records = await readLog(dir);
    const acked = runs.flatMap((run) => [...run.acked]);
    expect(acked).toHaveLength(100);
    expect(new Set(acked.map(([seq]) => seq)).size).toBe(100);
    for (const [seq, hash] of acked) expect(records.get(seq)?.hash).toBe(hash);
    const report = await verifyAuditLog({ dir }, { trust: pki.trust });
    expect(report).toMatchObject({ ok: true, records: 100 });
    expect(report.latestCheckpoint?.treeSize).toBe(100);
  }, 120_000);
});
