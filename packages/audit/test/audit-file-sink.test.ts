import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { appendFile, cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  type AuditLog,
  FileAuditSink,
  openAuditLog,
  openFileAuditLog,
  RECOVERY_ACTION,
  type SignedCheckpoint,
  verifyAuditLog,
} from "@custody/audit";
import { expectCode, sampleEvent } from "@custody/audit/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

let pki: TestPki;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pki = await createTestPki();
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function newDir(): Promise<string> {
  const temp = await tempDir("file");
  cleanups.push(temp.remove);
  return join(temp.dir, "log");
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

describe("file sink: torn writes", () => {
  it("cuts a torn last line, keeps the bytes aside, and records the repair in the log", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    for (let i = 0; i < 3; i += 1) await log.append(sampleEvent());
    await log.close();
    const torn = Buffer.from('{"action":"item.read","actor":"user-1","deta');
    await appendFile(join(dir, "audit.log"), torn);
    expect((await verifyAuditLog({ dir }, { trust: pki.trust })).problem).toMatchObject({
      kind: "torn",
      line: 4,
    });

    const reopened = await openFileAuditLog({ dir, signer: pki.signer });
    const records = [];
    for await (const record of reopened.read()) records.push(record);
    expect(records).toHaveLength(4);
    const repair = records[3];
    expect(repair).toMatchObject({ seq: 3, action: RECOVERY_ACTION, outcome: "error" });
    expect(repair?.details).toMatchObject({ kind: "torn-tail", tornBytes: torn.length });
    const kept = await readFile(join(dir, String(repair?.details.keptAt)));
    expect(kept.equals(torn)).toBe(true);
    await reopened.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 4 });
  });

  it("completes a last record that lacks only its newline instead of cutting it", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    for (let i = 0; i < 3; i += 1) await log.append(sampleEvent());
    await log.close();
    const file = join(dir, "audit.log");
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, -1));
    const reopened = await openFileAuditLog({ dir, signer: pki.signer });
    const records = [];
    for await (const record of reopened.read()) records.push(record);
    expect(records).toHaveLength(4);
    expect(records[3]?.details).toMatchObject({
      kind: "completed-line",
      offset: bytes.lastIndexOf(10, -2) + 1,
    });
    await reopened.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 4 });
  });

  it("sets aside half-written checkpoints (a signature without body, an unfinished temporary file)", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    await log.append(sampleEvent());
    await log.close();
    await writeFile(join(dir, "checkpoints", "000000000009.p7s"), Buffer.from([0x30, 0x80]));
    await writeFile(join(dir, "checkpoints", "000000000010.json.1234.tmp"), '{"format":"cus');
    const reopened = await openFileAuditLog({ dir, signer: pki.signer });
    const last = [];
    for await (const record of reopened.read({ since: 1 })) last.push(record);
    expect(last).toHaveLength(2);
    expect(last.map((r) => r.details)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "incomplete-checkpoint", treeSize: 10 }),
        expect.objectContaining({ kind: "incomplete-checkpoint", treeSize: 9 }),
      ]),
    );
    await reopened.close();
    expect(await readdir(join(dir, "torn"))).toHaveLength(2);
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 3 });
  });

  it("refuses to open a damaged log instead of appending to it", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    for (let i = 0; i < 3; i += 1) await log.append(sampleEvent());
    await log.close();
    const text = await readFile(join(dir, "audit.log"), "utf8");
    await writeFile(join(dir, "audit.log"), text.replace("item.read", "item.wipe"));
    const error = await expectCode(openFileAuditLog({ dir, signer: pki.signer }), "ERR_AUDIT_CHAIN_BROKEN");
    expect(error.details).toMatchObject({ kind: "modified", line: 1 });
    // The refused open released its lock.
    await expectCode(openFileAuditLog({ dir, signer: pki.signer }), "ERR_AUDIT_CHAIN_BROKEN");
  });
});

describe("hostile logs", () => {
  it("stops at a line longer than any record instead of buffering it", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    await log.append(sampleEvent());
    await log.close();
    await appendFile(join(dir, "audit.log"), Buffer.alloc(3 * 1024 * 1024, 0x41));
    const report = await verifyAuditLog({ dir }, { trust: pki.trust });
    expect(report.problem).toMatchObject({ code: "ERR_AUDIT_RECORD_INVALID", kind: "malformed", line: 2 });
  });

  it("refuses an oversized checkpoint file without reading it", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    await log.append(sampleEvent());
    await log.close();
    await writeFile(join(dir, "checkpoints", "000000000001.p7s"), Buffer.alloc(2 * 1024 * 1024));
    const report = await verifyAuditLog({ dir }, { trust: pki.trust });
    expect(report.problem).toMatchObject({ code: "ERR_AUDIT_CHECKPOINT_INVALID", treeSize: 1 });
    expect(report.problem?.message).toContain("too large");
  });

  it("reports a missing directory as ERR_NOT_FOUND", async () => {
    await expectCode(
      verifyAuditLog({ dir: join(await newDir(), "nope") }, { trust: pki.trust }),
      "ERR_NOT_FOUND",
    );
  });
});

describe("file sink: checkpoints on disk", () => {
  it("are checked by openssl cms -verify with the CA alone", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer });
    await log.append(sampleEvent());
    await log.close();
    await writeFile(join(dir, "..", "ca.pem"), pki.caPem);
    const base = join(dir, "checkpoints", "000000000001");
    const args = [
      "cms",
      "-verify",
      "-binary",
      "-inform",
      "DER",
      "-in",
      `${base}.p7s`,
      "-content",
      `${base}.json`,
    ];
    const result = spawnSync("openssl", [
      ...args,
      "-CAfile",
      join(dir, "..", "ca.pem"),
      "-purpose",
      "any",
      "-out",
      "/dev/null",
    ]);
    expect(result.status, String(result.stderr)).toBe(0);
    await writeFile(
      `${base}.json`,
      (await readFile(`${base}.json`, "utf8")).replace('"treeSize":1', '"treeSize":2'),
    );
    expect(
      spawnSync("openssl", [...args, "-CAfile", join(dir, "..", "ca.pem"), "-purpose", "any"]).status,
    ).not.toBe(0);
  });
});

describe("file sink: one writer at a time", () => {
  it("refuses a second writer in the same process with ERR_AUDIT_LOCKED", async () => {
    const dir = await newDir();
    const sink = await FileAuditSink.open(dir);
    const error = await expectCode(FileAuditSink.open(dir), "ERR_AUDIT_LOCKED");
    expect(error.details).toMatchObject({ pid: process.pid });
    await sink.close();
    await (await FileAuditSink.open(dir)).close();
  });

  it("refuses a lock held by another live process", async () => {
    const dir = await newDir();
    await (await FileAuditSink.open(dir)).close();
    const owner = { pid: process.ppid, host: hostname(), nonce: "x" };
    await writeFile(join(dir, "audit.lock"), JSON.stringify(owner));
    await expectCode(FileAuditSink.open(dir), "ERR_AUDIT_LOCKED");
  });

  it("takes over a stale lock left by a process that died", async () => {
    const dir = await newDir();
    await (await FileAuditSink.open(dir)).close();
    const owner = { pid: await deadPid(), host: hostname(), nonce: "dead" };
    await writeFile(join(dir, "audit.lock"), JSON.stringify(owner));
    const sink = await FileAuditSink.open(dir);
    expect(JSON.parse(await readFile(join(dir, "audit.lock"), "utf8"))).toMatchObject({ pid: process.pid });
    await sink.close();
  });

  it("refuses an unreadable lock rather than guessing", async () => {
    const dir = await newDir();
    await (await FileAuditSink.open(dir)).close();
    await writeFile(join(dir, "audit.lock"), "garbage");
    await expectCode(FileAuditSink.open(dir), "ERR_AUDIT_LOCKED");
  });
});

describe("forks", () => {
  it("reports ERR_AUDIT_FORK when a checkpoint of a diverged copy of the log sits beside this one", async () => {
    const base = await newDir();
    const shared = await openFileAuditLog({ dir: base, signer: pki.signer });
    for (let i = 0; i < 5; i += 1) await shared.append(sampleEvent());
    await shared.close();
    const copies = [`${base}-a`, `${base}-b`];
    for (const copy of copies) await cp(base, copy, { recursive: true });
    for (const [copy, extra] of [
      [copies[0] as string, 3],
      [copies[1] as string, 5],
    ] as const) {
      const log = await openFileAuditLog({ dir: copy, signer: pki.signer });
      for (let i = 0; i < extra; i += 1) await log.append(sampleEvent());
      await log.close();
    }
    const [a, b] = copies as [string, string];
    expect((await verifyAuditLog({ dir: a }, { trust: pki.trust })).ok).toBe(true);
    expect((await verifyAuditLog({ dir: b }, { trust: pki.trust })).ok).toBe(true);
    // b's checkpoint 10 is validly signed and links to the shared checkpoint 5, as a's checkpoint 8 does.
    for (const ext of ["json", "p7s"]) {
      await cp(join(b, "checkpoints", `000000000010.${ext}`), join(a, "checkpoints", `000000000010.${ext}`));
    }
    const report = await verifyAuditLog({ dir: a }, { trust: pki.trust });
    expect(report.problem).toMatchObject({ code: "ERR_AUDIT_FORK", kind: "fork", treeSize: 10 });
    // Held outside the log, b's checkpoint is a fork too; a consistency proof between them cannot exist.
    const bLog = await openFileAuditLog({ dir: b, signer: pki.signer });
    const foreign = await bLog.latestCheckpoint();
    await bLog.close();
    for (const ext of ["json", "p7s"]) await rm(join(a, "checkpoints", `000000000010.${ext}`));
    expect((await verifyAuditLog({ dir: a }, { trust: pki.trust })).ok).toBe(true);
    const known = await verifyAuditLog(
      { dir: a },
      { trust: pki.trust, knownCheckpoints: [foreign as SignedCheckpoint] },
    );
    expect(known.problem).toMatchObject({ code: "ERR_AUDIT_FORK", treeSize: 10 });
  });
});

describe("file sink: blocking writes", () => {
  it("writes sequential and concurrent appends in the calling thread, durable and verifiable", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer, blockingWrites: true });
    for (let i = 0; i < 20; i += 1) await log.append(sampleEvent(i));
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(sampleEvent(20 + i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 20 + i));
    await log.close();
    const lines = (await readFile(join(dir, "audit.log"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(70);
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 70 });
  });

  it("appends made in one turn share one write; sequential appends are written one by one", async () => {
    const dir = await newDir();
    const file = join(dir, "audit.log");
    // What is on disk when the observer sees a record: the observer runs once the record's write returned.
    const linesWhenSeen = new Map<number, number>();
    const log = await openFileAuditLog({
      dir,
      signer: pki.signer,
      blockingWrites: true,
      checkpointIntervalMs: 0,
      onRecord: (record) => {
        linesWhenSeen.set(record.seq, readFileSync(file, "utf8").split("\n").length - 1);
      },
    });
    for (let i = 0; i < 5; i += 1) await log.append(sampleEvent(i));
    expect([0, 1, 2, 3, 4].map((seq) => linesWhenSeen.get(seq))).toEqual([1, 2, 3, 4, 5]);
    const together = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(sampleEvent(5 + i))));
    expect(together.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 5 + i));
    // all twenty were on disk before the observer saw the first of them: one write
    expect(together.map((r) => linesWhenSeen.get(r.seq))).toEqual(Array(20).fill(25));
    await log.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, records: 25 });
  });
});

// blockingWrites "when-alone" (what `custody serve` uses): a record with nothing else queued after one
// turn of the event loop is written in the calling thread while writes are fast; anything else goes
// through the thread pool, several records in one write.

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
  const dir = await newDir();
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
