import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditLog, FileAuditSink, openAuditLog, verifyAuditLog } from "@custody/audit";
import { sampleEvent } from "@custody/audit/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

// blockingWrites "when-alone" (what `custody serve` uses): a record with nothing else queued after one
// turn of the event loop is written in the calling thread while writes are fast; anything else goes
// through the thread pool, several records in one write.

let pki: TestPki;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pki = await createTestPki();
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

type Write = "calling-thread" | "thread-pool";

/**
 * Whether each write went where it should, judged by how long the write before it took (as the log
 * measures it: the sink's write alone, the pool's hand-offs included): a lone record follows a write
 * under a millisecond in the calling thread and one over it through the pool. Writes within 0.25 ms of
 * the limit are not judged (the log's clock and ours read a few microseconds apart).
 */
function expectWritesFollowTheLimit(writes: Write[], writeMs: number[]): void {
  expect(writes[0]).toBe("calling-thread");
  for (let i = 1; i < writes.length; i += 1) {
    const before = writeMs[i - 1] as number;
    if (before < 0.75)
      expect({ i, before, write: writes[i] }).toEqual({ i, before, write: "calling-thread" });
    if (before > 1.25) expect({ i, before, write: writes[i] }).toEqual({ i, before, write: "thread-pool" });
  }
}

/** A real file sink opened "when-alone", whose writes are counted (and, with `slowMs`, made that slow). */
async function countedLog(options: { slowMs?: number } = {}): Promise<{
  log: AuditLog;
  dir: string;
  writes: Write[];
  writeMs: number[];
  linesWhenSeen: Map<number, number>;
}> {
  const temp = await tempDir("lone");
  cleanups.push(temp.remove);
  const dir = join(temp.dir, "log");
  const sink = await FileAuditSink.open(dir, { blockingWrites: "when-alone" });
  expect(sink.appendSyncFor).toBe("lone-record");
  const writes: Write[] = [];
  const writeMs: number[] = [];
  const inThread = sink.appendSync?.bind(sink) as (lines: Buffer) => void;
  Object.defineProperty(sink, "appendSync", {
    value: (lines: Buffer) => {
      const started = performance.now();
      writes.push("calling-thread");
      inThread(lines);
      const until = started + (options.slowMs ?? 0);
      while (performance.now() < until);
      writeMs.push(performance.now() - started);
    },
  });
  const throughPool = sink.append.bind(sink);
  sink.append = async (lines: Buffer) => {
    const started = performance.now();
    writes.push("thread-pool");
    await throughPool(lines);
    writeMs.push(performance.now() - started);
  };
  const file = join(dir, "audit.log");
  // What is on disk when the observer sees a record: it runs once the record's write returned.
  const linesWhenSeen = new Map<number, number>();
  const log = await openAuditLog(sink, {
    signer: pki.signer,
    checkpointIntervalMs: 0,
    onRecord: (record) => {
      linesWhenSeen.set(record.seq, readFileSync(file, "utf8").split("\n").length - 1);
    },
  });
  return { log, dir, writes, writeMs, linesWhenSeen };
}

describe('audit log: blockingWrites "when-alone"', () => {
  it("writes a lone record in the calling thread, one write per record, durable when acknowledged", async () => {
    const { log, dir, writes, writeMs, linesWhenSeen } = await countedLog();
    expect(writes).toEqual([]);
    for (let i = 0; i < 20; i += 1) await log.append(sampleEvent(i));
    expect(writes).toHaveLength(20);
    // on a loaded machine a write may take over a millisecond: the next goes through the pool
    expectWritesFollowTheLimit(writes, writeMs);
    expect(Array.from({ length: 20 }, (_, seq) => linesWhenSeen.get(seq))).toEqual(
      Array.from({ length: 20 }, (_, seq) => seq + 1),
    );
    await log.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 20 });
  });

  it("after a write slower than a millisecond, the next lone record goes through the thread pool", async () => {
    const { log, dir, writes, writeMs } = await countedLog({ slowMs: 3 });
    for (let i = 0; i < 12; i += 1) await log.append(sampleEvent(i));
    expect(writes).toHaveLength(12);
    // a slow write in the calling thread is never followed by another there
    for (let i = 1; i < writes.length; i += 1) {
      if (writes[i - 1] === "calling-thread") expect(writes[i]).toBe("thread-pool");
    }
    // and a fast write through the pool brings the next lone record back to the calling thread
    expectWritesFollowTheLimit(writes, writeMs);
    await log.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 12 });
  });

  it("records appended by separate callbacks of one turn of the event loop share one write through the pool", async () => {
    const { log, dir, writes, linesWhenSeen } = await countedLog();
    // like requests read in one poll of a server: each append is made by a callback of its own
    const records = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) =>
          new Promise((resolve, reject) =>
            setImmediate(() => log.append(sampleEvent(i)).then(resolve, reject)),
          ),
      ),
    );
    expect(records.map((record) => (record as { seq: number }).seq)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    expect(writes).toEqual(["thread-pool"]);
    expect(new Set(linesWhenSeen.values())).toEqual(new Set([30]));
    // appends made in one turn too
    writes.length = 0;
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(sampleEvent(30 + i))));
    expect(writes).toEqual(["thread-pool"]);
    await log.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 60 });
  });
});
