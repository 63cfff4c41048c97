import { Writable } from "node:stream";
import { createCertificateAuthority, createKeySigner, issueCertificate } from "@custody/manifest";
import { pino } from "pino";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AuditLog } from "./audit-log.js";
import { type AuditSinkHarness, type AuditSuiteContext, expectCode, sampleEvent } from "./conformance-kit.js";
import { registerCheckpointTests, registerProofTests, registerWriterTests } from "./conformance-more.js";
import { registerSealTests } from "./conformance-seal.js";
import { openAuditLog } from "./open.js";
import type { AuditEvent, AuditRecord } from "./record.js";
import { verifyAuditLog } from "./verify-parallel.js";

export type { AuditSinkHarness, AuditSuiteContext } from "./conformance-kit.js";
export { expectCode, sampleEvent } from "./conformance-kit.js";

/** The one suite every audit sink passes (file, Azure). Call it at the top level of a vitest file. */
export function testAuditSink(name: string, factory: () => Promise<AuditSinkHarness>): void {
  describe(`audit sink conformance: ${name}`, () => {
    const context = {} as AuditSuiteContext;
    const opened: AuditLog[] = [];
    beforeAll(async () => {
      const ca = await createCertificateAuthority({ commonName: "Audit Test CA", keyBits: 2048 });
      const leaf = await issueCertificate(ca, { commonName: "vault", usage: "vault-signer", keyBits: 2048 });
      context.signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
      context.trust = { trustAnchors: [ca.certificatePem] };
    });
    beforeEach(async () => {
      context.harness = await factory();
      context.open = async (options = {}, sink = undefined) => {
        const log = await openAuditLog(sink ?? (await context.harness.openSink()), {
          signer: context.signer,
          checkpointIntervalMs: 0,
          ...options,
        });
        opened.push(log);
        return log;
      };
    });
    afterEach(async () => {
      for (const log of opened.splice(0)) await log.close().catch(() => {});
      await context.harness.cleanup?.();
    });
    registerAppendTests(context);
    registerCheckpointTests(context);
    registerProofTests(context);
    registerWriterTests(context);
    registerSealTests(context);
  });
}

async function appendMany(log: AuditLog, count: number): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (let i = 0; i < count; i += 1) records.push(await log.append(sampleEvent()));
  return records;
}

async function readAll(log: AuditLog, since?: number): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of log.read(since === undefined ? {} : { since })) records.push(record);
  return records;
}

function registerAppendTests(context: AuditSuiteContext): void {
  it("appends durable, hash-chained records and reads them back", async () => {
    const log = await context.open();
    const records = await appendMany(log, 5);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(records[0]?.prev).toBe("0".repeat(64));
    expect(records[1]?.prev).toBe(records[0]?.hash);
    expect(await readAll(log)).toEqual(records);
    expect((await readAll(log, 3)).map((r) => r.seq)).toEqual([3, 4]);
    expect(log.size).toBe(5);
    expect(await log.verify({ trust: context.trust })).toMatchObject({
      ok: true,
      records: 5,
      unsignedRecords: 5,
    });
    await log.checkpoint();
    await log.append(sampleEvent());
    expect(await log.verify({ trust: context.trust })).toMatchObject({
      ok: true,
      records: 6,
      unsignedRecords: 1,
    });
  });

  it("group-commits concurrent appends: one write for many records, each resolved with its own", async () => {
    const sink = await context.harness.openSink();
    let writes = 0;
    const append = sink.append.bind(sink);
    sink.append = (lines: Buffer) => {
      writes += 1;
      return append(lines);
    };
    const log = await context.open({}, sink);
    const records = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(sampleEvent(i))));
    expect(records.map((r) => r.seq)).toEqual([...Array(200).keys()]);
    expect(records.map((r) => r.target)).toEqual(records.map((_, i) => `case-1/item-${i}`));
    expect(writes).toBeLessThan(20);
    expect(await readAll(log)).toEqual(records);
    expect((await log.verify({ trust: context.trust })).ok).toBe(true);
  });

  it("refuses invalid events with ERR_AUDIT_RECORD_INVALID and writes nothing", async () => {
    const log = await context.open();
    await log.append(sampleEvent());
    const bad: unknown[] = [
      { ...sampleEvent(), outcome: "maybe" },
      { ...sampleEvent(), actor: "" },
      { ...sampleEvent(), target: "x\ud800" },
      { ...sampleEvent(), details: [1, 2] },
      { ...sampleEvent(), details: { big: "x".repeat(70_000) } },
      { ...sampleEvent(), extra: 1 },
      { ...sampleEvent(), details: { n: Number.NaN } },
      null,
      "append me",
    ];
    for (const event of bad) await expectCode(log.append(event as AuditEvent), "ERR_AUDIT_RECORD_INVALID");
    expect(log.size).toBe(1);
    await log.close();
    const future = await context.open({ clock: { now: () => new Date("+010000-01-01T00:00:00.000Z") } });
    await expectCode(future.append(sampleEvent()), "ERR_AUDIT_RECORD_INVALID");
    expect(future.size).toBe(1);
    expect((await verifyAuditLog(context.harness.source(), { trust: context.trust })).ok).toBe(true);
  });

  it("mirrors every durable record to an injected pino logger", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = await context.open({ mirror: pino({ level: "info" }, destination) });
    const records = await appendMany(log, 3);
    await new Promise((resolve) => setImmediate(resolve));
    const mirrored = lines.map((line) => (JSON.parse(line) as { audit: AuditRecord }).audit);
    expect(mirrored).toEqual(records);
  });

  it("an append succeeds even when the mirror throws", async () => {
    const broken = {
      debug() {},
      warn() {},
      error() {},
      info() {
        throw new Error("SIEM down");
      },
    };
    const log = await context.open({ mirror: broken });
    expect((await log.append(sampleEvent())).seq).toBe(0);
    expect((await log.verify({ trust: context.trust })).records).toBe(1);
  });
}
