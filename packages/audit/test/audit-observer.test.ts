import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { type AuditRecord, openFileAuditLog, RECOVERY_ACTION, readAuditRecords } from "@custody/audit";
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
  const temp = await tempDir("observer");
  cleanups.push(temp.remove);
  return join(temp.dir, "log");
}

async function stored(dir: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of readAuditRecords({ dir })) records.push(record);
  return records;
}

describe("onRecord", () => {
  it("sees every appended record once, in order, before its append resolves", async () => {
    const dir = await newDir();
    const seen: AuditRecord[] = [];
    const log = await openFileAuditLog({ dir, signer: pki.signer, onRecord: (r) => seen.push(r) });
    const single = await log.append(sampleEvent());
    expect(seen.at(-1)).toBe(single);
    const batch = await Promise.all(
      Array.from({ length: 50 }, () =>
        log.append(sampleEvent()).then((record) => {
          expect(seen).toContain(record);
          return record;
        }),
      ),
    );
    await log.close();
    expect(seen).toEqual([single, ...batch]);
    expect(seen.map((r) => r.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i));
    expect(seen).toEqual(await stored(dir));
  });

  it("replays every stored record at open in one pass, then the recoveries open appends", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer, checkpointEvery: 7 });
    for (let i = 0; i < 30; i += 1) await log.append(sampleEvent());
    await log.close();
    await appendFile(join(dir, "audit.log"), '{"seq":30,"torn');
    const seen: AuditRecord[] = [];
    const reopened = await openFileAuditLog({ dir, signer: pki.signer, onRecord: (r) => seen.push(r) });
    expect(seen).toHaveLength(31);
    expect(seen.at(-1)).toMatchObject({ seq: 30, action: RECOVERY_ACTION });
    await reopened.close();
    expect(seen).toEqual(await stored(dir));
  });

  it("an observer that throws stops the log (its state is out of step) until it is reopened", async () => {
    const dir = await newDir();
    let fail = false;
    const log = await openFileAuditLog({
      dir,
      signer: pki.signer,
      onRecord: () => {
        if (fail) throw new Error("state update failed");
      },
    });
    await log.append(sampleEvent());
    fail = true;
    const error = await expectCode(log.append(sampleEvent()), "ERR_INTERNAL");
    expect(error.details).toMatchObject({ seq: 1, durable: true });
    await expectCode(log.append(sampleEvent()), "ERR_INTERNAL");
    await log.close();
    const seen: AuditRecord[] = [];
    const reopened = await openFileAuditLog({ dir, signer: pki.signer, onRecord: (r) => seen.push(r) });
    expect(seen.map((r) => r.seq)).toEqual([0, 1]);
    await reopened.close();
  });
});
