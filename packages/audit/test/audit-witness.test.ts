import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  DirectoryCheckpointWitness,
  openFileAuditLog,
  readLatestCheckpoint,
  type SignedCheckpoint,
  verifyAuditLog,
} from "@custody/audit";
import { expectCode, sampleEvent } from "@custody/audit/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendForged, cutBack, snapshot } from "./attacker.js";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

let pki: TestPki;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pki = await createTestPki();
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** A log folder and, beside it (outside the folder the attacker writes), a witness directory. */
async function newLog(): Promise<{ dir: string; witnessDir: string; witness: DirectoryCheckpointWitness }> {
  const temp = await tempDir("witness");
  cleanups.push(temp.remove);
  const witnessDir = join(temp.dir, "witness");
  await mkdir(witnessDir);
  return { dir: join(temp.dir, "log"), witnessDir, witness: new DirectoryCheckpointWitness(witnessDir) };
}

/** 20 records with checkpoints at 10 and 20, each also in the witness. */
async function twoCheckpoints(): Promise<Awaited<ReturnType<typeof newLog>> & { old: SignedCheckpoint }> {
  const setup = await newLog();
  const log = await openFileAuditLog({ dir: setup.dir, signer: pki.signer, witness: setup.witness });
  for (let i = 0; i < 10; i += 1) await log.append(sampleEvent());
  await log.checkpoint();
  for (let i = 0; i < 10; i += 1) await log.append(sampleEvent());
  const old = await log.checkpoint();
  await log.close();
  return { ...setup, old };
}

describe("checkpoint witness", () => {
  it("holds a byte-identical copy of every checkpoint the log signs", async () => {
    const { dir, witnessDir } = await twoCheckpoints();
    const own = await readdir(join(dir, "checkpoints"));
    expect((await readdir(witnessDir)).sort()).toEqual(own.sort());
    for (const name of own) {
      expect(
        (await readFile(join(witnessDir, name))).equals(await readFile(join(dir, "checkpoints", name))),
      ).toBe(true);
    }
  });

  it("refuses a log cut back together with its newest checkpoints (ERR_AUDIT_TRUNCATED), changing nothing", async () => {
    const { dir, witness } = await twoCheckpoints();
    await cutBack(dir, 10);
    // Without the witness the cut cannot be seen: the log and its remaining checkpoint agree.
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 10 });
    const before = await snapshot(dir);
    const error = await expectCode(
      openFileAuditLog({ dir, signer: pki.signer, witness }),
      "ERR_AUDIT_TRUNCATED",
    );
    expect(error.details).toMatchObject({ records: 10, treeSize: 20 });
    expect(await snapshot(dir)).toEqual(before);
  });

  it("refuses a log cut back and regrown with other records (ERR_AUDIT_FORK)", async () => {
    const { dir, witness } = await twoCheckpoints();
    await cutBack(dir, 10);
    for (let i = 0; i < 12; i += 1) await appendForged(dir);
    await expectCode(openFileAuditLog({ dir, signer: pki.signer, witness }), "ERR_AUDIT_FORK");
  });

  it("fails a checkpoint the witness cannot store, and logs it; appends go on", async () => {
    const { dir, witness, witnessDir } = await newLog();
    const errors: unknown[] = [];
    const logger = { error: (obj: unknown) => errors.push(obj) } as never;
    const log = await openFileAuditLog({ dir, signer: pki.signer, witness, logger, checkpointIntervalMs: 0 });
    await log.append(sampleEvent());
    await rm(witnessDir, { recursive: true });
    await expectCode(log.checkpoint(), "ERR_NOT_FOUND");
    expect(errors).toHaveLength(1);
    await log.append(sampleEvent());
    await mkdir(witnessDir);
    expect((await log.checkpoint()).checkpoint.treeSize).toBe(2);
    expect(await readdir(witnessDir)).toContain("000000000002.json");
    await log.close();
  });

  it("catches up at open: a new (or behind) witness gets the log's latest checkpoint", async () => {
    const { dir, witness, witnessDir } = await newLog();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    for (let i = 0; i < 3; i += 1) await log.append(sampleEvent());
    await log.close();
    const reopened = await openFileAuditLog({ dir, signer: pki.signer, witness });
    await reopened.close();
    const latest = await readLatestCheckpoint({ dir });
    expect(await readFile(join(witnessDir, "000000000003.json"))).toEqual(latest?.bytes);
  });

  it("signs again a sealed tail whose sink checkpoint was deleted, when the witness holds that tree", async () => {
    const { dir, witness, witnessDir } = await newLog();
    const sealKey = randomBytes(32);
    const log = await openFileAuditLog({ dir, signer: pki.signer, witness, sealKey });
    for (let i = 0; i < 4; i += 1) await log.append(sampleEvent());
    await log.close();
    const held = await readFile(join(witnessDir, "000000000004.json"));
    await rm(join(dir, "checkpoints", "000000000004.json"));
    await rm(join(dir, "checkpoints", "000000000004.p7s"));
    const reopened = await openFileAuditLog({ dir, signer: pki.signer, witness, sealKey });
    expect((await reopened.latestCheckpoint())?.checkpoint.treeSize).toBe(4);
    await reopened.close();
    expect(await readFile(join(witnessDir, "000000000004.json"))).toEqual(held);
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 5 });
  });
});

describe("verifyAuditLog with a checkpoint kept elsewhere", () => {
  it("reports a log cut back together with its newest checkpoints as truncated", async () => {
    const { dir, old } = await twoCheckpoints();
    await cutBack(dir, 10);
    const report = await verifyAuditLog({ dir }, { trust: pki.trust, knownCheckpoints: [old] });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: "ERR_AUDIT_TRUNCATED", treeSize: 20 });
  });

  it("reports a log cut back and regrown with other records as a fork", async () => {
    const { dir, old } = await twoCheckpoints();
    await cutBack(dir, 10);
    for (let i = 0; i < 12; i += 1) await appendForged(dir);
    const report = await verifyAuditLog({ dir }, { trust: pki.trust, knownCheckpoints: [old] });
    expect(report.problem).toMatchObject({ code: "ERR_AUDIT_FORK", treeSize: 20 });
  });

  it("is still ok when the kept checkpoint is the log's own", async () => {
    const { dir, old } = await twoCheckpoints();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust, knownCheckpoints: [old] })).toMatchObject({
      ok: true,
    });
  });
});
