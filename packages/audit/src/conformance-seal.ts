import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { AuditLog } from "./audit-log.js";
import { type AuditSuiteContext, expectCode, sampleEvent } from "./conformance-kit.js";
import { TAIL_SIGNED_ACTION } from "./open.js";
import { readAuditRecords } from "./reader.js";
import { type AuditRecord, makeRecord } from "./record.js";
import { type SealKey, toSealKey } from "./seal.js";

async function stored(context: AuditSuiteContext): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of readAuditRecords(context.harness.source())) records.push(record);
  return records;
}

/** Writes one record after the stored ones straight through the sink, as someone around the log would. */
async function appendAround(context: AuditSuiteContext, key?: SealKey): Promise<AuditRecord> {
  const last = (await stored(context)).at(-1) as AuditRecord;
  const event = sampleEvent();
  const body = {
    ...event,
    details: event.details ?? {},
    seq: last.seq + 1,
    time: last.time,
    prev: last.hash,
  };
  const { record, line } = makeRecord(body, key);
  const sink = await context.harness.openSink();
  try {
    await sink.append(Buffer.from(`${line}\n`));
  } finally {
    await sink.close();
  }
  return record;
}

async function sealedLog(context: AuditSuiteContext, sealKey: Uint8Array, count: number): Promise<AuditLog> {
  const log = await context.open({ sealKey });
  for (let i = 0; i < count; i += 1) await log.append(sampleEvent());
  await log.close();
  return log;
}

/** Seals, the unsealed-tail check and the record observer: the same on every sink. */
export function registerSealTests(context: AuditSuiteContext): void {
  it("refuses a record added around the log after its last checkpoint, and writes nothing", async () => {
    const sealKey = randomBytes(32);
    await sealedLog(context, sealKey, 3);
    const forged = await appendAround(context);
    const error = await expectCode(context.open({ sealKey }), "ERR_AUDIT_UNSEALED_TAIL");
    expect(error.details).toMatchObject({ fromSeq: 3, count: 1, firstHash: forged.hash });
    expect((await stored(context)).length).toBe(4);
    expect(await context.harness.source().listCheckpoints()).toEqual([3]);
  });

  it("signs the sealed records a writer left without a checkpoint, and records that it did", async () => {
    const sealKey = randomBytes(32);
    await sealedLog(context, sealKey, 2);
    const left = await appendAround(context, toSealKey(sealKey));
    const log = await context.open({ sealKey });
    expect((await log.latestCheckpoint())?.checkpoint.treeSize).toBe(3);
    await log.close();
    const records = await stored(context);
    expect(records[2]).toEqual(left);
    expect(records[3]).toMatchObject({ action: TAIL_SIGNED_ACTION, details: { fromSeq: 2, count: 1 } });
  });

  it("hands every stored record to onRecord during the replay, in order", async () => {
    const sealKey = randomBytes(32);
    await sealedLog(context, sealKey, 5);
    const seen: AuditRecord[] = [];
    const log = await context.open({ sealKey, onRecord: (record) => seen.push(record) });
    await log.append(sampleEvent());
    await log.close();
    expect(seen).toEqual(await stored(context));
  });
}
