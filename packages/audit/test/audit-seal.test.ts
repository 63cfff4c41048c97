import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import { openFileAuditLog, verifyAuditLog } from "@custody/audit";
import { expectCode, sampleEvent } from "@custody/audit/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendForged, readLines, snapshot } from "./attacker.js";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

let pki: TestPki;
const sealKey = randomBytes(32);
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pki = await createTestPki();
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function newDir(): Promise<string> {
  const temp = await tempDir("seal");
  cleanups.push(temp.remove);
  return join(temp.dir, "log");
}

/** A log of `count` records, closed (so its last checkpoint covers them all). */
async function closedLog(count: number): Promise<string> {
  const dir = await newDir();
  const log = await openFileAuditLog({ dir, signer: pki.signer, sealKey, checkpointIntervalMs: 0 });
  for (let i = 0; i < count; i += 1) await log.append(sampleEvent());
  await log.close();
  return dir;
}

const hmac = (key: Uint8Array, hash: string) =>
  createHmac("sha256", key).update(Buffer.from(hash, "hex")).digest("hex");

describe("sealed records", () => {
  it("writes a seal on every line, sequential and group-committed, outside the record hash", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer, sealKey, checkpointIntervalMs: 0 });
    const first = await log.append(sampleEvent());
    const batch = await Promise.all(Array.from({ length: 40 }, () => log.append(sampleEvent())));
    await log.close();
    const lines = await readLines(dir);
    expect(lines).toHaveLength(41);
    for (const line of lines) expect(line.seal).toBe(hmac(sealKey, line.hash as string));
    expect(first.seal).toBe(lines[0]?.seal);
    expect(batch.map((r) => r.seal)).toEqual(lines.slice(1).map((l) => l.seal));
    // A verifier without the key checks the log exactly as before.
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 41 });
  });

  it("refuses a seal key too short to be a secret", async () => {
    await expectCode(
      openFileAuditLog({ dir: await newDir(), signer: pki.signer, sealKey: randomBytes(8) }),
      "ERR_INVALID_ARGUMENT",
    );
  });
});

describe("a tail the vault did not write", () => {
  it("refuses a record appended by hand (chain recomputed) after the last checkpoint, changing nothing", async () => {
    const dir = await closedLog(5);
    await appendForged(dir);
    await appendForged(dir);
    const before = await snapshot(dir);
    const error = await expectCode(
      openFileAuditLog({ dir, signer: pki.signer, sealKey }),
      "ERR_AUDIT_UNSEALED_TAIL",
    );
    expect(error.details).toMatchObject({ fromSeq: 5, count: 2 });
    expect(await snapshot(dir)).toEqual(before);
    // Every later open refuses it the same way: nothing signed it meanwhile.
    await expectCode(openFileAuditLog({ dir, signer: pki.signer, sealKey }), "ERR_AUDIT_UNSEALED_TAIL");
    expect(await snapshot(dir)).toEqual(before);
  });

  it("refuses a seal copied from another record, or made with another key", async () => {
    const dir = await closedLog(3);
    const copied = (await readLines(dir))[2]?.seal as string;
    await appendForged(dir, copied);
    await expectCode(openFileAuditLog({ dir, signer: pki.signer, sealKey }), "ERR_AUDIT_UNSEALED_TAIL");
    const other = await closedLog(3);
    await appendForged(other, hmac(randomBytes(32), "00".repeat(32)));
    await expectCode(
      openFileAuditLog({ dir: other, signer: pki.signer, sealKey }),
      "ERR_AUDIT_UNSEALED_TAIL",
    );
  });

  it("opens a tail for review: nothing signs it until the caller accepts it, then the next checkpoint does", async () => {
    const dir = await closedLog(4);
    const forged = await appendForged(dir);
    const open = () => openFileAuditLog({ dir, signer: pki.signer, sealKey, acceptUnsealedTail: true });
    const review = await open();
    expect(review.unsealedTail).toEqual({
      fromSeq: 4,
      count: 1,
      firstHash: forged.hash,
      lastHash: forged.hash,
    });
    await expectCode(review.checkpoint(), "ERR_AUDIT_UNSEALED_TAIL");
    // The custodian refuses: closing signs nothing, and the tail is still refused at the next open.
    await review.close();
    await expectCode(openFileAuditLog({ dir, signer: pki.signer, sealKey }), "ERR_AUDIT_UNSEALED_TAIL");

    const log = await open();
    const accepted = await log.append({
      actor: "carol",
      action: "audit.tail-accepted",
      target: dir.slice(-1024),
      outcome: "allow",
      reason: "custodian looked at the records",
      details: { ...log.unsealedTail },
    });
    log.acceptUnsealedTail();
    const checkpoint = await log.checkpoint();
    expect(checkpoint.checkpoint.treeSize).toBe(accepted.seq + 1);
    await log.close();
    const reopened = await openFileAuditLog({ dir, signer: pki.signer, sealKey });
    expect(reopened.unsealedTail).toBeUndefined();
    await reopened.close();
  });

  it("without a seal key behaves as before (a library user with no vault)", async () => {
    const dir = await closedLog(2);
    await appendForged(dir);
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    expect(log.size).toBe(3);
    expect(log.unsealedTail).toBeUndefined();
    await log.close();
  });

  it("verifyAuditLog says how many unsigned records carry a valid seal", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer, sealKey, checkpointIntervalMs: 0 });
    for (let i = 0; i < 3; i += 1) await log.append(sampleEvent());
    await log.checkpoint();
    for (let i = 0; i < 4; i += 1) await log.append(sampleEvent());
    // Read while the writer holds the log: the four after the checkpoint are sealed and unsigned.
    expect(await verifyAuditLog({ dir }, { trust: pki.trust, sealKey })).toMatchObject({
      ok: true,
      unsignedRecords: 4,
      sealedUnsignedRecords: 4,
    });
    await log.close();
    await appendForged(dir);
    const report = await verifyAuditLog({ dir }, { trust: pki.trust, sealKey });
    expect(report).toMatchObject({ ok: true, unsignedRecords: 1, sealedUnsignedRecords: 0 });
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).not.toHaveProperty("sealedUnsignedRecords");
  });
});
