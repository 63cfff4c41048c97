import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AuditRecord,
  openFileAuditLog,
  RECOVERY_ACTOR,
  readLatestCheckpoint,
  TAIL_SIGNED_ACTION,
  verifyAuditLog,
} from "@custody/audit";
import { sampleEvent } from "@custody/audit/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

const CHILD = fileURLToPath(new URL("./child/appender.ts", import.meta.url));
const REGISTER = fileURLToPath(new URL("./child/register.mjs", import.meta.url));
const sealKey = randomBytes(32);
let pki: TestPki;
let base: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  pki = await createTestPki();
  ({ dir: base, remove } = await tempDir("crash-seal"));
  await writeFile(join(base, "signer.key"), pki.leaf.keyPem, { mode: 0o600 });
  await writeFile(join(base, "signer.pem"), pki.leaf.certificatePem);
});
afterAll(async () => remove());

/** Runs a sealed writer until it has reported `count` durable appends, then kills it with SIGKILL. */
async function appendThenKill(dir: string, count: number): Promise<Map<number, string>> {
  const flags = ["--experimental-transform-types", "--no-warnings", "--import", REGISTER];
  const args = [CHILD, dir, join(base, "signer.key"), join(base, "signer.pem"), "sealed", String(count)];
  const child = spawn(process.execPath, [...flags, ...args, sealKey.toString("hex")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const acked = new Map<number, string>();
  let partial = "";
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the writer exited early (${code})`)));
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const [seq, hash] = line.split(" ");
        acked.set(Number(seq), hash as string);
      }
      if (acked.size === count) resolve();
    });
  });
  const exited = new Promise((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return acked;
}

describe("a writer killed after durable appends, before its checkpoint", () => {
  it("leaves a sealed tail that the next open signs, and records that it did", async () => {
    const dir = join(base, "log");
    const first = await openFileAuditLog({ dir, signer: pki.signer, sealKey });
    for (let i = 0; i < 3; i += 1) await first.append(sampleEvent());
    await first.close();
    const acked = await appendThenKill(dir, 25);
    expect([...acked.keys()]).toEqual(Array.from({ length: 25 }, (_, i) => i + 3));
    expect((await readLatestCheckpoint({ dir }))?.checkpoint.treeSize).toBe(3);
    expect(await verifyAuditLog({ dir }, { trust: pki.trust, sealKey })).toMatchObject({
      unsignedRecords: 25,
      sealedUnsignedRecords: 25,
    });

    const log = await openFileAuditLog({ dir, signer: pki.signer, sealKey });
    expect((await log.latestCheckpoint())?.checkpoint.treeSize).toBe(28);
    const records: AuditRecord[] = [];
    for await (const record of log.read()) records.push(record);
    await log.close();
    for (const [seq, hash] of acked) expect(records[seq]?.hash).toBe(hash);
    expect(records[28]).toMatchObject({
      actor: RECOVERY_ACTOR,
      action: TAIL_SIGNED_ACTION,
      outcome: "error",
      details: { fromSeq: 3, count: 25, firstHash: acked.get(3), lastHash: acked.get(27), treeSize: 28 },
    });
    expect(await verifyAuditLog({ dir }, { trust: pki.trust, sealKey })).toMatchObject({
      ok: true,
      records: 29,
      unsignedRecords: 0,
    });
  }, 60_000);
});
