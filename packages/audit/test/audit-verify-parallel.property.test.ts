import { isAscii } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuditEvent,
  type AuditRecord,
  type AuditSource,
  openFileAuditLog,
  type SignedCheckpoint,
} from "@custody/audit";
import { sampleEvent } from "@custody/audit/conformance";
import { canonicalJson } from "@custody/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCheckpointBytes } from "../src/checkpoint.js";
import { verifyAuditLogSequential } from "../src/verify.js";
import { verifyAuditLog } from "../src/verify-parallel.js";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

// The parallel verifier must report exactly what the sequential one does (code, kind, line, seq, counts,
// root, seals) for any damage, wherever the chunk boundaries fall: each log is verified both ways, the
// parallel one with tiny chunks so that problems land on, just before and just after every join.

type Checkpoints = Map<number, { bytes: Buffer; signature: Buffer }>;
interface Log {
  bytes: Buffer;
  checkpoints: Checkpoints;
}
let pki: TestPki;
/** Events with non-ASCII details (each line decoded and parsed), and plain ASCII ones (checked on their bytes). */
const logs: Record<"unicode" | "ascii", Log> = {
  unicode: { bytes: Buffer.alloc(0), checkpoints: new Map() },
  ascii: { bytes: Buffer.alloc(0), checkpoints: new Map() },
};
let log: Buffer;
let checkpoints: Checkpoints;
const removals: (() => Promise<void>)[] = [];
const SIGNED = 40;
const RECORDS = SIGNED + 7;
const sealKey = randomBytes(32);
const asciiEvent = (i: number): AuditEvent => ({
  ...sampleEvent(i),
  details: { n: i, note: "plain", ok: true },
});

async function writeLog(event: (i: number) => AuditEvent): Promise<Log> {
  const temp = await tempDir("parallel");
  removals.push(temp.remove);
  const writer = await openFileAuditLog({
    dir: temp.dir,
    signer: pki.signer,
    sealKey,
    checkpointEvery: 1e6,
    checkpointIntervalMs: 0,
  });
  for (let i = 0; i < RECORDS; i += 1) {
    await writer.append(event(i));
    if ((i + 1) % 8 === 0 && i < SIGNED) await writer.checkpoint();
  }
  const bytes = await readFile(join(temp.dir, "audit.log"));
  const stored: Checkpoints = new Map();
  for (const name of await readdir(join(temp.dir, "checkpoints"))) {
    const file = (ext: string) => readFile(join(temp.dir, "checkpoints", `${name.slice(0, 12)}.${ext}`));
    stored.set(Number(name.slice(0, 12)), { bytes: await file("json"), signature: await file("p7s") });
  }
  await writer.close();
  return { bytes, checkpoints: stored };
}

/** The log the next checks use. */
function use(which: keyof typeof logs): void {
  ({ bytes: log, checkpoints } = logs[which]);
}

beforeAll(async () => {
  pki = await createTestPki();
  logs.unicode = await writeLog((i) => sampleEvent(i));
  logs.ascii = await writeLog(asciiEvent);
  expect(isAscii(logs.ascii.bytes)).toBe(true);
  expect(isAscii(logs.unicode.bytes)).toBe(false);
  use("unicode");
});
afterAll(async () => {
  for (const remove of removals) await remove();
});

function memorySource(bytes: Buffer, stored: Checkpoints, step: number): AuditSource {
  return {
    description: "memory",
    async *readBytes() {
      for (let at = 0; at < bytes.length; at += step) yield bytes.subarray(at, at + step);
    },
    listCheckpoints: async () => [...stored.keys()].sort((a, b) => a - b),
    readCheckpoint: async (size) => stored.get(size) as { bytes: Buffer; signature: Buffer },
  };
}

const lines = (bytes: Buffer): string[] => bytes.toString("utf8").split("\n").slice(0, -1);
const joined = (list: string[]): Buffer => Buffer.from(list.map((l) => `${l}\n`).join(""));

function rehash(records: AuditRecord[]): string[] {
  let prev = "0".repeat(64);
  return records.map((record, seq) => {
    const { hash: _old, seal: _seal, ...rest } = { ...record, seq, prev };
    const hash = createHash("sha256").update(canonicalJson(rest)).digest("hex");
    prev = hash;
    return canonicalJson({ ...rest, hash });
  });
}

/** One record's line with its hash made to match its (edited) content, unsealed. */
function rehashOne(record: AuditRecord): string {
  const { hash: _old, seal: _seal, ...rest } = record;
  return canonicalJson({ ...rest, hash: createHash("sha256").update(canonicalJson(rest)).digest("hex") });
}

const index = fc.integer({ min: 0, max: RECORDS - 1 });
const mutation = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("swap" as const), i: index, j: index }),
  fc.record({ kind: fc.constant("delete" as const), i: index, count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("duplicate" as const), i: index, to: index }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("rehashed-edit" as const), i: index }),
  // One record re-hashed on its own with another seq (its prev still right), or another prev (its seq right).
  fc.record({ kind: fc.constant("reseq" as const), i: index, seq: fc.integer({ min: 0, max: RECORDS + 2 }) }),
  fc.record({ kind: fc.constant("relink" as const), i: index, j: index }),
  fc.record({ kind: fc.constant("unseal" as const), i: index }),
  fc.record({ kind: fc.constant("drop-checkpoint" as const), size: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant("blank-line" as const), i: index }),
  fc.record({ kind: fc.constant("bad-utf8" as const), i: index }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(m: Mutation): { bytes: Buffer; stored: Checkpoints } {
  const list = lines(log);
  const records = list.map((line) => JSON.parse(line) as AuditRecord);
  const stored = new Map(checkpoints);
  switch (m.kind) {
    case "none":
      return { bytes: log, stored };
    case "flip": {
      const bytes = Buffer.from(log);
      const at = m.at % bytes.length;
      bytes[at] = (bytes[at] as number) ^ (1 << m.bit);
      return { bytes, stored };
    }
    case "swap":
      [list[m.i], list[m.j]] = [list[m.j] as string, list[m.i] as string];
      return { bytes: joined(list), stored };
    case "delete":
      list.splice(m.i, m.count);
      return { bytes: joined(list), stored };
    case "duplicate":
      list.splice(m.to, 0, list[m.i] as string);
      return { bytes: joined(list), stored };
    case "truncate":
      return { bytes: log.subarray(0, m.at % log.length), stored };
    case "rehashed-edit":
      (records[m.i] as AuditRecord).reason = "edited";
      return { bytes: joined(rehash(records)), stored };
    case "reseq":
      list[m.i] = rehashOne({ ...(records[m.i] as AuditRecord), seq: m.seq });
      return { bytes: joined(list), stored };
    case "relink":
      list[m.i] = rehashOne({ ...(records[m.i] as AuditRecord), prev: (records[m.j] as AuditRecord).hash });
      return { bytes: joined(list), stored };
    case "unseal":
      list[m.i] = (list[m.i] as string).replace(/,"seal":"[0-9a-f]{64}"/, "");
      return { bytes: joined(list), stored };
    case "drop-checkpoint":
      stored.delete(m.size * 8);
      return { bytes: log, stored };
    case "blank-line":
      list.splice(m.i, 0, "");
      return { bytes: joined(list), stored };
    case "bad-utf8": {
      const bytes = joined(list);
      const at = bytes.indexOf(Buffer.from(list[m.i] as string)) + 3;
      bytes[at] = 0xff;
      return { bytes, stored };
    }
  }
}

async function both(bytes: Buffer, stored: Checkpoints, chunkBytes: number, threads: number, step: number) {
  const knownCheckpoints: SignedCheckpoint[] = [];
  const known = checkpoints.get(24);
  if (known !== undefined) knownCheckpoints.push(parseCheckpointBytes(known.bytes, known.signature));
  const options = { trust: pki.trust, sealKey, knownCheckpoints };
  const progress: number[][] = [[], []];
  const sequential = await verifyAuditLogSequential(memorySource(bytes, stored, step), {
    ...options,
    onProgress: ({ records }) => progress[0]?.push(records),
  });
  const parallel = await verifyAuditLog(
    memorySource(bytes, stored, step),
    { ...options, threads, onProgress: ({ records }) => progress[1]?.push(records) },
    { chunkBytes, inlineBytes: threads === 0 ? 0 : chunkBytes },
  );
  expect(parallel).toEqual(sequential);
  expect(progress[1]).toEqual(progress[0]);
  return sequential;
}

async function sameAsSequential(which: keyof typeof logs): Promise<void> {
  use(which);
  const kinds = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      mutation,
      fc.integer({ min: 1, max: 4000 }),
      fc.integer({ min: 1, max: 3000 }),
      async (m, chunkBytes, step) => {
        const { bytes, stored } = apply(m);
        const report = await both(bytes, stored, chunkBytes, 0, step);
        kinds.add(report.problem?.kind ?? "ok");
      },
    ),
    { numRuns: 400 },
  );
  for (const kind of ["ok", "malformed", "modified", "missing", "out-of-order", "rewritten", "torn"]) {
    expect(kinds, kind).toContain(kind);
  }
  use("unicode");
}

async function sameWithWorkers(which: keyof typeof logs): Promise<void> {
  use(which);
  await fc.assert(
    fc.asyncProperty(mutation, fc.integer({ min: 200, max: 3000 }), async (m, chunkBytes) => {
      const { bytes, stored } = apply(m);
      await both(bytes, stored, chunkBytes, 2, 1024);
    }),
    { numRuns: 12 },
  );
  use("unicode");
}

describe("parallel audit verification", () => {
  it("reports what the sequential verifier reports, for any damage and any chunking (in this thread)", () =>
    sameAsSequential("unicode"));

  it("reports what the sequential verifier reports for a plain ASCII log, whose lines are checked on their bytes", () =>
    sameAsSequential("ascii"));

  it("does the same with worker threads", () => sameWithWorkers("unicode"));

  it("does the same with worker threads for a plain ASCII log", () => sameWithWorkers("ascii"));

  it("reads a log directory straight into its chunks, with the same result", async () => {
    const temp = await tempDir("parallel-dir");
    try {
      const writer = await openFileAuditLog({ dir: temp.dir, signer: pki.signer, checkpointEvery: 700 });
      await Promise.all(Array.from({ length: 3000 }, (_, i) => writer.append(sampleEvent(i))));
      await writer.close();
      const options = { trust: pki.trust };
      const tuning = { chunkBytes: 40_000, inlineBytes: 0 };
      const good = await verifyAuditLog({ dir: temp.dir }, { ...options, threads: 2 }, tuning);
      expect(good).toEqual(await verifyAuditLogSequential({ dir: temp.dir }, options));
      expect(good).toMatchObject({ ok: true, records: 3000 });
      const path = join(temp.dir, "audit.log");
      const bytes = await readFile(path);
      bytes[Math.floor(bytes.length * 0.6)] ^= 0x01;
      await writeFile(path, bytes);
      const bad = await verifyAuditLog({ dir: temp.dir }, { ...options, threads: 2 }, tuning);
      expect(bad.ok).toBe(false);
      expect(bad).toEqual(await verifyAuditLogSequential({ dir: temp.dir }, options));
    } finally {
      await temp.remove();
    }
  });

  it("finds a fork and a cut log at the same place", async () => {
    const cut = joined(lines(log).slice(0, 29));
    expect((await both(cut, checkpoints, 500, 2, 700)).problem).toMatchObject({
      code: "ERR_AUDIT_TRUNCATED",
      treeSize: 32,
    });
    const records = lines(log).map((line) => JSON.parse(line) as AuditRecord);
    (records[30] as AuditRecord).actor = "someone-else";
    const forked = joined(rehash(records));
    expect((await both(forked, checkpoints, 777, 0, 4096)).problem).toMatchObject({
      code: "ERR_AUDIT_CHAIN_BROKEN",
      kind: "rewritten",
      treeSize: 32,
    });
  });
});
