import { randomBytes } from "node:crypto";
import { createCertificateAuthority } from "@custody/manifest";
import { expect, it } from "vitest";
import type { AuditLog } from "./audit-log.js";
import { CHECKPOINT_FORMAT, type SignedCheckpoint, signCheckpoint } from "./checkpoint.js";
import { type AuditSuiteContext, expectCode, sampleEvent } from "./conformance-kit.js";
import { verifyConsistencyBundle, verifyInclusionBundle } from "./proofs.js";
import type { AuditRecord } from "./record.js";
import { verifyAuditLog } from "./verify-parallel.js";

async function appendMany(log: AuditLog, count: number): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (let i = 0; i < count; i += 1) records.push(await log.append(sampleEvent()));
  return records;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function registerCheckpointTests(context: AuditSuiteContext): void {
  it("checkpoints every N records and on close, signed and chained", async () => {
    const log = await context.open({ checkpointEvery: 10 });
    await appendMany(log, 35);
    await log.close();
    const sizes = await context.harness.source().listCheckpoints();
    expect(sizes.length).toBeGreaterThanOrEqual(2);
    expect(sizes.at(-1)).toBe(35);
    expect(sizes[0]).toBeGreaterThanOrEqual(10);
    const report = await verifyAuditLog(context.harness.source(), { trust: context.trust });
    expect(report).toMatchObject({ ok: true, records: 35, checkpoints: sizes.length });
    expect(report.latestCheckpoint?.treeSize).toBe(35);
    expect(report.latestCheckpoint?.prevCheckpoint).toMatch(/^[0-9a-f]{64}$/);
  });

  it("checkpoints on a timer, and checkpoint() is idempotent without new records", async () => {
    const log = await context.open({ checkpointIntervalMs: 30 });
    await expectCode(log.checkpoint(), "ERR_INVALID_ARGUMENT");
    await appendMany(log, 3);
    await waitFor(async () => (await log.latestCheckpoint())?.checkpoint.treeSize === 3);
    // On a loaded machine the timer may also have caught the log after its first record ([1, 3]).
    const timed = await context.harness.source().listCheckpoints();
    expect(timed.at(-1)).toBe(3);
    const again = await log.checkpoint();
    expect(again.checkpoint.treeSize).toBe(3);
    expect(await context.harness.source().listCheckpoints()).toEqual(timed);
  });

  it("reopening continues both the record chain and the checkpoint chain", async () => {
    const first = await context.open();
    const before = await appendMany(first, 3);
    await first.close();
    const second = await context.open();
    expect((await second.latestCheckpoint())?.checkpoint.treeSize).toBe(3);
    const after = await appendMany(second, 2);
    expect(after[0]).toMatchObject({ seq: 3, prev: before[2]?.hash });
    await second.close();
    const report = await verifyAuditLog(context.harness.source(), { trust: context.trust });
    expect(report).toMatchObject({ ok: true, records: 5, checkpoints: 2 });
  });

  it("reports a checkpoint signed under other trust anchors", async () => {
    const log = await context.open();
    await appendMany(log, 4);
    await log.close();
    const other = await createCertificateAuthority({ commonName: "Other CA", keyBits: 2048 });
    const report = await verifyAuditLog(context.harness.source(), {
      trust: { trustAnchors: [other.certificatePem] },
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({
      code: "ERR_AUDIT_CHECKPOINT_INVALID",
      kind: "checkpoint-invalid",
      treeSize: 4,
    });
    expect(report.problem?.signatureCode).toBe("ERR_UNTRUSTED_SIGNER");
  });

  it("reports a fork against a signed checkpoint held outside, and truncation against a larger one", async () => {
    const log = await context.open();
    await appendMany(log, 6);
    const signer = context.signer;
    const foreign = (treeSize: number): Promise<SignedCheckpoint> =>
      signCheckpoint(
        {
          format: CHECKPOINT_FORMAT,
          treeSize,
          rootHash: randomBytes(32).toString("hex"),
          time: new Date().toISOString(),
          prevCheckpoint: null,
        },
        signer,
      );
    const fork = await log.verify({ trust: context.trust, knownCheckpoints: [await foreign(4)] });
    expect(fork.problem).toMatchObject({ code: "ERR_AUDIT_FORK", kind: "fork", treeSize: 4 });
    const cut = await log.verify({ trust: context.trust, knownCheckpoints: [await foreign(9)] });
    expect(cut.problem).toMatchObject({ code: "ERR_AUDIT_TRUNCATED", kind: "truncated", treeSize: 9 });
    const honest = await log.checkpoint();
    expect((await log.verify({ trust: context.trust, knownCheckpoints: [honest] })).ok).toBe(true);
  });
}

export function registerProofTests(context: AuditSuiteContext): void {
  it("proves inclusion of every record against a signed checkpoint, offline", async () => {
    const log = await context.open();
    const records = await appendMany(log, 13);
    const checkpoint = await log.checkpoint();
    for (const record of records) {
      const bundle = JSON.parse(JSON.stringify(await log.proveInclusion(record.seq, checkpoint)));
      expect(verifyInclusionBundle(bundle, { trust: context.trust }).record).toEqual(record);
    }
    await expectCode(log.proveInclusion(13, checkpoint), "ERR_INVALID_ARGUMENT");
    const many = await log.proveInclusions([12, 0, 7], checkpoint);
    expect(many.map((b) => b.record.seq)).toEqual([12, 0, 7]);
    expect(many[2]).toEqual(await log.proveInclusion(7, checkpoint));
    await appendMany(log, 1);
    expect((await log.proveInclusion(13)).checkpoint.checkpoint.treeSize).toBe(14);
  });

  it("rejects dishonest inclusion bundles", async () => {
    const log = await context.open();
    await appendMany(log, 9);
    const good = await log.proveInclusion(5);
    const trust = { trust: context.trust };
    const clone = () => JSON.parse(JSON.stringify(good)) as typeof good;
    const edited = clone();
    edited.record.reason = "nothing to see";
    expect(() => verifyInclusionBundle(edited, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
    const flipped = clone();
    flipped.proof[0] = `${flipped.proof[0]?.slice(0, 63)}${flipped.proof[0]?.endsWith("0") ? "1" : "0"}`;
    expect(() => verifyInclusionBundle(flipped, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
    const short = clone();
    short.proof.pop();
    expect(() => verifyInclusionBundle(short, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
    const resized = clone();
    resized.checkpoint.checkpoint.treeSize = 8;
    expect(() => verifyInclusionBundle(resized, trust)).toThrow(
      expect.objectContaining({ code: "ERR_AUDIT_CHECKPOINT_INVALID" }),
    );
    const other = await log.proveInclusion(6);
    const swapped = { ...clone(), record: other.record };
    expect(() => verifyInclusionBundle(swapped, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
    await appendMany(log, 4);
    const later = await log.proveInclusion(5, await log.checkpoint());
    const otherTree = { ...clone(), checkpoint: later.checkpoint };
    expect(later.checkpoint.checkpoint.treeSize).toBe(13);
    expect(() => verifyInclusionBundle(otherTree, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
    expect(() => verifyInclusionBundle({ format: "x" }, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
  });

  it("proves consistency between checkpoints and rejects dishonest proofs", async () => {
    const log = await context.open();
    await appendMany(log, 5);
    const old = await log.checkpoint();
    await appendMany(log, 7);
    const bundle = JSON.parse(JSON.stringify(await log.proveConsistency(old)));
    const trust = { trust: context.trust };
    expect(verifyConsistencyBundle(bundle, trust).to.checkpoint.treeSize).toBe(12);
    const swapped = { ...bundle, from: bundle.to, to: bundle.from };
    expect(() => verifyConsistencyBundle(swapped, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
    const flipped = structuredClone(bundle);
    flipped.proof[0] = "00".repeat(32);
    expect(() => verifyConsistencyBundle(flipped, trust)).toThrow(
      expect.objectContaining({ code: "ERR_PROOF_INVALID" }),
    );
  });
}

export function registerWriterTests(context: AuditSuiteContext): void {
  it("two writers on one log: the second is refused or loses the race, never forks it", async () => {
    const first = await context.open();
    await appendMany(first, 2);
    let second: AuditLog | undefined;
    try {
      second = await context.open();
    } catch (error) {
      expect(error).toMatchObject({ code: "ERR_AUDIT_LOCKED" });
    }
    if (second !== undefined) {
      await first.append(sampleEvent());
      await expectCode(second.append(sampleEvent()), "ERR_AUDIT_RACE");
      await expectCode(second.append(sampleEvent()), "ERR_AUDIT_RACE");
    }
    await first.append(sampleEvent());
    await first.close();
    const report = await verifyAuditLog(context.harness.source(), { trust: context.trust });
    expect(report).toMatchObject({ ok: true, records: second === undefined ? 3 : 4 });
  });

  it("refuses appends after close; close is idempotent", async () => {
    const log = await context.open();
    await appendMany(log, 1);
    await log.close();
    await log.close();
    await expectCode(log.append(sampleEvent()), "ERR_INVALID_ARGUMENT");
  });
}
