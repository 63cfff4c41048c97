import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuditRecord,
  type AuditResumePoint,
  DirectoryCheckpointWitness,
  openFileAuditLog,
  verifyAuditLog,
} from "@custody/audit";
import { expectCode, sampleEvent } from "@custody/audit/conformance";
import { describe, expect, it } from "vitest";
import { logFolders } from "./fixtures.js";

const logs = logFolders("resume");
const newDir = () => logs.newDir();
/** A closed log of `count` records and the point its close handed out. */
async function closedLog(dir: string, count: number, checkpointEvery = 5): Promise<AuditResumePoint> {
  const log = await openFileAuditLog({ dir, signer: logs.pki.signer, checkpointEvery });
  for (let i = 0; i < count; i += 1) await log.append(sampleEvent());
  await log.close();
  const point = log.resumePoint();
  if (point === undefined) throw new Error("a closed log with every record signed hands out a point");
  return point;
}

/** Opens the log from `point`; what it read and whether it went on from the point. */
async function reopen(
  dir: string,
  point: AuditResumePoint,
  extra: { witness?: DirectoryCheckpointWitness } = {},
) {
  const seen: AuditRecord[] = [];
  let resumed = false;
  const log = await openFileAuditLog({
    dir,
    signer: logs.pki.signer,
    resumeFrom: point,
    onResume: () => {
      resumed = true;
    },
    onRecord: (record) => seen.push(record),
    ...extra,
  });
  return { log, seen, resumed };
}

async function editLine(dir: string, index: number, edit: (line: string) => string): Promise<void> {
  const path = join(dir, "audit.log");
  const lines = (await readFile(path, "utf8")).split("\n");
  lines[index] = edit(lines[index] as string);
  await writeFile(path, lines.join("\n"));
}

describe("resuming a log from a point", () => {
  it("is taken at a checkpoint's tree size while appends go on (`atPoint`), and is a point an open goes on from", async () => {
    const dir = await newDir();
    let observed = 0;
    const log = await openFileAuditLog({
      dir,
      signer: logs.pki.signer,
      checkpointEvery: 1000,
      onRecord: () => {
        observed += 1;
      },
    });
    const seenAt: number[] = [];
    for (let i = 0; i < 5; i += 1) await log.append(sampleEvent());
    // appends queued before and after the checkpoint, none awaited in between
    const appends = Array.from({ length: 20 }, () => log.append(sampleEvent()));
    await appends[9];
    let taken: AuditResumePoint | undefined;
    const signed = log.checkpoint({
      atPoint: (point) => {
        taken = point;
        seenAt.push(observed);
      },
    });
    const more = Array.from({ length: 20 }, () => log.append(sampleEvent()));
    const checkpoint = await signed;
    await Promise.all([...appends, ...more]);
    expect(taken?.treeSize).toBe(checkpoint.checkpoint.treeSize);
    expect(log.size).toBe(45);
    await log.close();
    const { log: reopened, seen, resumed } = await reopen(dir, taken as AuditResumePoint);
    expect(resumed).toBe(true);
    expect(seen.map((record) => record.seq)).toEqual(
      Array.from({ length: 45 - (taken?.treeSize ?? 0) }, (_, i) => (taken?.treeSize ?? 0) + i),
    );
    await reopened.close();
    // the point is what the observer had seen when it was taken, no more and no less
    expect(seenAt).toEqual([taken?.treeSize]);
    expect(taken?.treeSize).toBeGreaterThanOrEqual(15);
    expect(taken?.treeSize).toBeLessThan(45);
  });

  it("reads only the records after the point, and the log goes on as if read whole", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 12);
    expect(point.treeSize).toBe(12);
    const { log, seen, resumed } = await reopen(dir, point);
    expect(resumed).toBe(true);
    expect(seen).toEqual([]);
    const next = await log.append(sampleEvent());
    expect(next.seq).toBe(12);
    await log.close();
    const later = log.resumePoint();
    expect(later?.treeSize).toBe(13);
    // the same chain as a log read from its start
    const whole = await openFileAuditLog({ dir, signer: logs.pki.signer });
    expect(whole.resumePoint()).toEqual(later);
    await whole.close();
    expect((await verifyAuditLog({ dir }, { trust: logs.pki.trust })).ok).toBe(true);
  });

  it("hands the records after an older point to onRecord, checked against the signed checkpoints", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 7);
    const log = await openFileAuditLog({ dir, signer: logs.pki.signer, checkpointEvery: 5 });
    for (let i = 0; i < 9; i += 1) await log.append(sampleEvent());
    await log.close();
    const { log: reopened, seen, resumed } = await reopen(dir, point);
    expect(resumed).toBe(true);
    expect(seen.map((r) => r.seq)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15]);
    await reopened.close();
  });

  it("refuses an edit after the point as a whole read does", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 6);
    const log = await openFileAuditLog({ dir, signer: logs.pki.signer });
    for (let i = 0; i < 4; i += 1) await log.append(sampleEvent());
    await log.close();
    await editLine(dir, 8, (line) => line.replace('"outcome":"allow"', '"outcome":"ALLOW"'));
    await expectCode(reopen(dir, point), "ERR_AUDIT_RECORD_INVALID");
    await expectCode(openFileAuditLog({ dir, signer: logs.pki.signer }), "ERR_AUDIT_RECORD_INVALID");
  });

  it("leaves an edit before the point to verification, which finds it", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 10);
    await editLine(dir, 2, (line) => line.replace('"outcome":"allow"', '"outcome":"ALLOW"'));
    const { log, resumed } = await reopen(dir, point);
    expect(resumed).toBe(true);
    await log.close();
    const report = await verifyAuditLog({ dir }, { trust: logs.pki.trust });
    expect(report.ok).toBe(false);
    expect(report.problem?.line).toBe(3);
  });

  it("reads the whole log from a point that is not a record boundary, or not where the chain is", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 10);
    const log = await openFileAuditLog({ dir, signer: logs.pki.signer });
    await log.append(sampleEvent());
    await log.close();
    for (const wrong of [
      { ...point, byteOffset: point.byteOffset - 3 },
      { ...point, lastHash: "0".repeat(64) },
      { ...point, treeSize: 9 },
    ]) {
      const { log: reopened, seen, resumed } = await reopen(dir, wrong);
      expect(resumed).toBe(false);
      expect(seen).toHaveLength(11);
      await reopened.close();
    }
  });

  it("reads the whole log, and finds the edit, when the record at the point is not the point's", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 10);
    await editLine(dir, 9, (line) => line.replace('"outcome":"allow"', '"outcome":"ALLOW"'));
    await expectCode(reopen(dir, point), "ERR_AUDIT_RECORD_INVALID");
  });

  it("reads the whole log where the point cannot be checked by a signed checkpoint", async () => {
    const dir = await newDir();
    const point = await closedLog(dir, 10);
    // the checkpoint that covered the point is gone (a cut log's checkpoints): the point is not used
    for (const ext of ["json", "p7s"]) await rm(join(dir, "checkpoints", `000000000010.${ext}`));
    const { log: reopened, seen, resumed } = await reopen(dir, point);
    expect(resumed).toBe(false);
    expect(seen.length).toBeGreaterThanOrEqual(10);
    await reopened.close();
  });

  it("reads the whole log when the witness's checkpoint is older than the point", async () => {
    const dir = await newDir();
    const witnessDir = join(await newDir(), "witness");
    await mkdir(witnessDir, { recursive: true });
    const witness = new DirectoryCheckpointWitness(witnessDir);
    const log = await openFileAuditLog({ dir, signer: logs.pki.signer, witness });
    for (let i = 0; i < 4; i += 1) await log.append(sampleEvent());
    await log.close();
    const point = await closedLog(dir, 6); // written without the witness: it holds the checkpoint of 4
    const first = await reopen(dir, point, { witness });
    expect(first.resumed).toBe(false);
    await first.log.close(); // the open caught the witness up
    const second = await reopen(dir, point, { witness });
    expect(second.resumed).toBe(true);
    await second.log.close();
  });

  it("hands out no point while records are not yet covered by a checkpoint", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({
      dir,
      signer: logs.pki.signer,
      checkpointEvery: 100,
      checkpointIntervalMs: 0,
    });
    await log.append(sampleEvent());
    expect(log.resumePoint()).toBeUndefined();
    await log.checkpoint();
    expect(log.resumePoint()?.treeSize).toBe(1);
    await log.close();
  });
});
