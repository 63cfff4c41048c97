import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditRecord, AuditResumePoint } from "@custody/audit";
import { afterAll, describe, expect, it } from "vitest";
import { Ledger } from "../src/ledger.js";
import { readLedgerSnapshot } from "../src/ledger-snapshot.js";
import {
  captureLedger,
  removeOtherItemsFiles,
  writeCapturedLedger,
  writeLedgerSnapshot,
} from "../src/ledger-snapshot-write.js";

// The snapshot's items, at a size where they take many buckets: written whole, then again after a
// few facts, copying what those facts did not touch; read back, they are the items a ledger that saw
// every fact holds.
const work = mkdtempSync(join(tmpdir(), "custody-ledger-buckets-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sealKey = randomBytes(32);
const VAULT = "V-buckets";
let seq = 0;

function fact(action: string, target: string, details: Record<string, unknown>): AuditRecord {
  const record = {
    seq,
    time: "2026-12-07T10:00:00.000Z",
    actor: "alice",
    action,
    target,
    outcome: "allow",
    reason: "test",
    details,
    prev: "0".repeat(64),
    hash: createHash("sha256").update(String(seq)).digest("hex"),
  } as AuditRecord;
  seq += 1;
  return record;
}

const idOf = (n: number) => createHash("sha256").update(`item ${n}`).digest("hex");
const caseOf = (n: number) => `CASE-${n % 40}`;

function ingested(n: number, caseId = caseOf(n)): AuditRecord {
  const id = idOf(n);
  return fact("evidence.ingested", `item:${caseId}/${id}`, {
    record: { caseId, id },
    recordSha256: idOf(-n),
    legalHold: false,
  });
}

const point = (ledger: Ledger): AuditResumePoint => ({
  treeSize: ledger.records,
  byteOffset: 1,
  lastHash: "0".repeat(64),
  subtreeRoots: [],
});

const sorted = (ledger: Ledger) =>
  [...ledger.items.values()]
    .map((item) => ({ ...item }))
    .sort((a, b) => (a.caseId + a.id).localeCompare(b.caseId + b.id));

function restored(dir: string): Ledger {
  const snapshot = readLedgerSnapshot(dir, sealKey, VAULT);
  if (snapshot === undefined) throw new Error("no snapshot");
  const ledger = new Ledger();
  ledger.restore(snapshot.state, snapshot.items);
  return ledger;
}

/** A ledger of a new vault and `count` items, its snapshot written to `dir`. */
async function snapshotOf(dir: string, count: number): Promise<Ledger> {
  const whole = new Ledger();
  whole.observe(fact("vault.init", `vault:${VAULT}`, { vaultId: VAULT }));
  for (let n = 0; n < count; n += 1) whole.observe(ingested(n));
  await writeLedgerSnapshot(dir, whole, point(whole), sealKey, VAULT);
  return whole;
}

describe("a snapshot of 3,000 items", () => {
  it("is read back whole, and written again after a few facts by copying the buckets they did not touch", async () => {
    const dir = join(work, "index");
    const whole = await snapshotOf(dir, 3000);
    const first = readdirSync(dir).find((name) => name.endsWith(".items")) as string;

    const ledger = restored(dir);
    expect(sorted(ledger)).toEqual(sorted(whole));

    // later facts, seen by both: a hold, a purge, new items in an existing case and in a new one
    const later = [
      fact("evidence.hold-set", `item:${caseOf(7)}/${idOf(7)}`, { legalHold: true }),
      fact("evidence.purged", `item:${caseOf(8)}/${idOf(8)}`, {}),
      ingested(5000),
      ingested(5001, "CASE-NEW"),
      ingested(7, "CASE-NEW"), // an id another case holds
    ];
    const resumed = restored(dir);
    for (const record of later) {
      whole.observe(record);
      resumed.observe(record);
    }
    const touched = resumed.items.capture().changed.size;
    await writeLedgerSnapshot(dir, resumed, point(resumed), sealKey, VAULT);
    const second = readdirSync(dir).find((name) => name.endsWith(".items")) as string;
    expect(second).not.toBe(first);
    expect(readdirSync(dir).filter((name) => name.endsWith(".items"))).toHaveLength(1);

    // lookups first, on a ledger that has read nothing yet: they must find their buckets
    const again = restored(dir);
    expect(
      again
        .itemsWithId(idOf(7))
        .map((item) => item.caseId)
        .sort(),
    ).toEqual([caseOf(7), "CASE-NEW"]);
    expect(again.item(caseOf(7), idOf(7))?.legalHold).toBe(true);
    expect(again.item(caseOf(8), idOf(8))?.purged).toBe(true);
    expect(again.itemsWithId(idOf(5001).slice(0, 8)).map((item) => item.caseId)).toEqual(["CASE-NEW"]);
    expect(
      restored(dir)
        .itemsWithId(idOf(5000))
        .map((item) => item.caseId),
    ).toEqual([caseOf(5000)]);
    expect(sorted(restored(dir))).toEqual(sorted(whole));
    // most case buckets were copied: the facts changed only the buckets of the cases they name
    expect(touched).toBeLessThan(5);
    expect(
      JSON.parse(readFileSync(join(dir, "ledger.snapshot"), "utf8").split("\n")[1] as string).cases.lengths
        .length,
    ).toBeGreaterThan(8);
  });
});

/** A ledger that saw `records`, and one restored from the snapshot in `dir` that saw them too. */
function both(dir: string, records: AuditRecord[], whole: Ledger): Ledger {
  const resumed = restored(dir);
  for (const record of records) {
    whole.observe(record);
    resumed.observe(record);
  }
  return resumed;
}

describe("a snapshot's items as the vault grows and goes on", () => {
  it("are split into more buckets when the items outgrow them, copying nothing stale", async () => {
    const dir = join(work, "grows");
    const whole = await snapshotOf(dir, 3000);
    const layout = () =>
      JSON.parse(readFileSync(join(dir, "ledger.snapshot"), "utf8").split("\n")[1] as string);
    const before = layout();

    const more = [fact("evidence.hold-set", `item:${caseOf(11)}/${idOf(11)}`, { legalHold: true })];
    for (let n = 3000; n < 9000; n += 1) more.push(ingested(n));
    const resumed = both(dir, more, whole);
    await writeLedgerSnapshot(dir, resumed, point(resumed), sealKey, VAULT);
    const after = layout();
    expect(after.cases.lengths.length).toBeGreaterThan(before.cases.lengths.length);
    expect(after.idDigits).toBeGreaterThan(before.idDigits);
    expect(sorted(restored(dir))).toEqual(sorted(whole));
    expect(restored(dir).item(caseOf(11), idOf(11))?.legalHold).toBe(true);
    expect(restored(dir).itemsWithId(idOf(8999).slice(0, 8))).toHaveLength(1);
  });

  it("are written as they were at the capture while facts go on, and the next snapshot adds those facts", async () => {
    const dir = join(work, "capture");
    const whole = await snapshotOf(dir, 3000);

    const live = both(
      dir,
      [fact("evidence.hold-set", `item:${caseOf(1)}/${idOf(1)}`, { legalHold: true }), ingested(6000)],
      whole,
    );
    const atCapture = sorted(whole);
    const captured = captureLedger(live, point(live));
    // after the capture: a bucket changed before it changes again, an untouched one changes, new items
    const after = [
      fact("evidence.hold-released", `item:${caseOf(1)}/${idOf(1)}`, { legalHold: false }),
      fact("evidence.purged", `item:${caseOf(2)}/${idOf(2)}`, {}),
      ingested(6001),
      ingested(6002, "CASE-LATE"),
    ];
    for (const record of after) {
      whole.observe(record);
      live.observe(record);
    }
    const written = await writeCapturedLedger(dir, captured, sealKey, VAULT);
    live.items.rebase(captured.items, written);
    await removeOtherItemsFiles(dir, written);
    expect(sorted(restored(dir))).toEqual(atCapture);
    expect(readdirSync(dir).filter((name) => name.endsWith(".items"))).toHaveLength(1);

    // the live ledger goes on from what it wrote: the same items, counted once
    expect(sorted(live)).toEqual(sorted(whole));
    expect(live.items.count).toBe(whole.items.count);
    await writeLedgerSnapshot(dir, live, point(live), sealKey, VAULT);
    expect(sorted(restored(dir))).toEqual(sorted(whole));
    expect(restored(dir).item(caseOf(2), idOf(2))?.purged).toBe(true);
  });

  it("of a ledger read from the whole log are all captured, and what follows the capture is written next", async () => {
    const dir = join(work, "no-base");
    const whole = new Ledger();
    const live = new Ledger();
    const first = [fact("vault.init", `vault:${VAULT}`, { vaultId: VAULT })];
    for (let n = 0; n < 500; n += 1) first.push(ingested(n));
    for (const record of first) {
      whole.observe(record);
      live.observe(record);
    }
    const captured = captureLedger(live, point(live));
    const atCapture = sorted(whole);
    for (const record of [
      ingested(900),
      fact("evidence.hold-set", `item:${caseOf(3)}/${idOf(3)}`, { legalHold: true }),
    ]) {
      whole.observe(record);
      live.observe(record);
    }
    const written = await writeCapturedLedger(dir, captured, sealKey, VAULT);
    live.items.rebase(captured.items, written);
    expect(sorted(restored(dir))).toEqual(atCapture);
    expect(live.items.count).toBe(501);
    await writeLedgerSnapshot(dir, live, point(live), sealKey, VAULT);
    expect(sorted(restored(dir))).toEqual(sorted(whole));
  });
});
