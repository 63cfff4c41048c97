import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type AuditRecord, type BlockingWrites, openFileAuditLog, verifyAuditLog } from "@custody/audit";
import { sampleEvent } from "@custody/audit/conformance";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

// A write that fails leaves bytes on disk nobody knows, so the log must refuse every later append until
// it is reopened (and repaired). Played on a real full disk: a small tmpfs.
let pki: TestPki;
let work: { dir: string; remove(): Promise<void> };
const disks: string[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  work = await tempDir("failed-write");
});
afterAll(async () => {
  for (const disk of disks) {
    try {
      execFileSync("umount", ["-l", disk], { stdio: "ignore" });
    } catch {}
  }
  await work.remove();
});

/** Mounts a small tmpfs; undefined where this machine does not allow it. */
function smallDisk(at: string): string | undefined {
  mkdirSync(at);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=96k", "tmpfs", at], { stdio: "ignore" });
    disks.push(at);
    return at;
  } catch {
    return undefined;
  }
}

async function rejection(promise: Promise<unknown>): Promise<CustodyError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (error instanceof CustodyError) return error;
  throw new Error(`expected a CustodyError, got ${String(error)}`);
}

/** Fills a small disk until an append fails, then checks the log refuses until reopened and lost nothing. */
async function fillThenReopen(disk: string, blockingWrites: BlockingWrites): Promise<void> {
  const dir = join(disk, "log");
  const log = await openFileAuditLog({
    dir,
    signer: pki.signer,
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 0,
    blockingWrites,
  });
  const acknowledged: AuditRecord[] = [];
  const bulky = { ...sampleEvent(), details: { padding: "x".repeat(8000) } };
  let failure: CustodyError | undefined;
  while (failure === undefined) {
    await log.append(bulky).then(
      (record) => acknowledged.push(record),
      (error: unknown) => {
        failure = error instanceof CustodyError ? error : new CustodyError("ERR_INTERNAL", String(error));
      },
    );
  }
  expect(failure.code).toBe("ERR_STORAGE_FULL");
  expect(acknowledged.length).toBeGreaterThan(0);

  // room again, yet the open log still refuses: it cannot know what the failed write left
  execFileSync("mount", ["-o", "remount,size=4m", disk], { stdio: "ignore" });
  for (let i = 0; i < 3; i += 1) expect((await rejection(log.append(sampleEvent()))).code).toBe(failure.code);
  await log.close().catch(() => undefined);

  const reopened = await openFileAuditLog({ dir, signer: pki.signer, checkpointIntervalMs: 0 });
  const next = await reopened.append(sampleEvent());
  expect(next.seq).toBeGreaterThan(acknowledged.at(-1)?.seq ?? -1);
  await reopened.close();
  const report = await verifyAuditLog({ dir }, { trust: pki.trust });
  expect(report.ok, JSON.stringify(report.problem)).toBe(true);
  const stored = report.records;
  expect(stored).toBeGreaterThan(acknowledged.length);
}

describe("an audit log after a failed write", () => {
  it("refuses every append after a failed write until it is reopened, and loses nothing acknowledged", async (test) => {
    const disk = smallDisk(join(work.dir, "disk"));
    if (disk === undefined) return test.skip("needs permission to mount a tmpfs");
    await fillThenReopen(disk, false);
  });

  it("with blockingWrites, refuses every append after a failed write until it is reopened, and loses nothing acknowledged", async (test) => {
    const disk = smallDisk(join(work.dir, "disk-blocking"));
    if (disk === undefined) return test.skip("needs permission to mount a tmpfs");
    await fillThenReopen(disk, true);
  });

  it('with blockingWrites "when-alone", refuses every append after a failed write until it is reopened, and loses nothing acknowledged', async (test) => {
    const disk = smallDisk(join(work.dir, "disk-alone"));
    if (disk === undefined) return test.skip("needs permission to mount a tmpfs");
    await fillThenReopen(disk, "when-alone");
  });
});
