import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuditRecord,
  type AuditSource,
  CHECKPOINT_FORMAT,
  openFileAuditLog,
  recordLeafHash,
  verifyAuditLog,
} from "@custody/audit";
import { sampleEvent } from "@custody/audit/conformance";
import { canonicalJson, canonicalJsonBytes } from "@custody/core";
import { MerkleAccumulator } from "@custody/hash";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki, tempDir } from "./fixtures.js";

type Checkpoints = Map<number, { bytes: Buffer; signature: Buffer }>;
let pki: TestPki;
let attacker: TestPki;
let log: Buffer;
let checkpoints: Checkpoints;
let remove: () => Promise<void>;
/** Records under a signed checkpoint, then a sealed tail after the last one (as a running vault has). */
const SIGNED = 40;
const TAIL = 6;
const RECORDS = SIGNED + TAIL;
const sealKey = randomBytes(32);

beforeAll(async () => {
  pki = await createTestPki();
  attacker = await createTestPki("Attacker CA");
  const temp = await tempDir("tamper");
  remove = temp.remove;
  // Checkpoints at exactly 10, 20, 30, 40 (automatic ones could land later while one is being signed),
  // then six sealed records no checkpoint covers yet. The log is read while its writer still holds it,
  // since closing would sign the tail.
  const writer = await openFileAuditLog({
    dir: temp.dir,
    signer: pki.signer,
    sealKey,
    checkpointEvery: 1e6,
    checkpointIntervalMs: 0,
  });
  for (let i = 0; i < RECORDS; i += 1) {
    await writer.append(sampleEvent(i));
    if ((i + 1) % 10 === 0 && i < SIGNED) await writer.checkpoint();
  }
  log = await readFile(join(temp.dir, "audit.log"));
  checkpoints = new Map();
  for (const name of await readdir(join(temp.dir, "checkpoints"))) {
    const size = Number(name.slice(0, 12));
    const file = (ext: string) => readFile(join(temp.dir, "checkpoints", `${name.slice(0, 12)}.${ext}`));
    checkpoints.set(size, { bytes: await file("json"), signature: await file("p7s") });
  }
  await writer.close();
});
afterAll(() => remove());

/** The verifier reads through this, in odd-sized chunks so line splitting is exercised too. */
function memorySource(bytes: Buffer, stored: Checkpoints): AuditSource {
  return {
    description: "memory",
    async *readBytes() {
      for (let at = 0; at < bytes.length; at += 997) yield bytes.subarray(at, at + 997);
    },
    listCheckpoints: async () => [...stored.keys()].sort((a, b) => a - b),
    readCheckpoint: async (size) => stored.get(size) as { bytes: Buffer; signature: Buffer },
  };
}

const lines = (bytes: Buffer): string[] => bytes.toString("utf8").split("\n").slice(0, -1);
const join_ = (list: string[]): Buffer => Buffer.from(list.map((l) => `${l}\n`).join(""));

/**
 * What an attacker with write access but without the signing or seal key can do: edit, then re-hash the
 * chain. Seals (an HMAC outside the hash) cannot be recomputed, so the rewritten records carry none.
 */
function rehash(records: AuditRecord[]): string[] {
  let prev = "0".repeat(64);
  return records.map((record, seq) => {
    const { hash: _old, seal: _seal, ...rest } = { ...record, seq, prev };
    const hash = createHash("sha256").update(canonicalJson(rest)).digest("hex");
    prev = hash;
    return canonicalJson({ ...rest, hash });
  });
}

/** ... and re-sign every checkpoint with a key of their own. */
async function resign(rewritten: string[]): Promise<Checkpoints> {
  const accumulator = new MerkleAccumulator();
  const out: Checkpoints = new Map();
  let prev: string | null = null;
  for (const line of rewritten) {
    accumulator.append(recordLeafHash((JSON.parse(line) as AuditRecord).hash));
    if (accumulator.size % 10 !== 0 && accumulator.size !== rewritten.length) continue;
    const bytes = canonicalJsonBytes({
      format: CHECKPOINT_FORMAT,
      treeSize: accumulator.size,
      rootHash: accumulator.root().toString("hex"),
      time: new Date().toISOString(),
      prevCheckpoint: prev,
    });
    out.set(accumulator.size, { bytes, signature: await attacker.signer.sign(bytes) });
    prev = createHash("sha256").update(bytes).digest("hex");
  }
  return out;
}

const index = fc.integer({ min: 0, max: RECORDS - 1 });

/**
 * The original log with only the seal of a record under a checkpoint changed: a seal authenticates a
 * record until a signed checkpoint covers it, after which the verifier relies on the signature.
 */
function touchesOnlyASignedSeal(bytes: Buffer): boolean {
  const before = lines(log);
  const after = lines(bytes);
  if (before.length !== after.length) return false;
  const changed = before.flatMap((line, i) => (line === after[i] ? [] : [i]));
  if (changed.length !== 1 || (changed[0] as number) >= SIGNED) return false;
  const unsealed = (line: string) => line.replace(/"seal":"[^"]*"/, "");
  const i = changed[0] as number;
  return unsealed(before[i] as string) === unsealed(after[i] as string);
}

/** A log that is the original cut at a record boundary past the last checkpoint: a shorter honest log. */
function dropsOnlyTailSuffix(bytes: Buffer): boolean {
  const kept = lines(bytes);
  return kept.length >= SIGNED && kept.length < RECORDS && log.subarray(0, bytes.length).equals(bytes);
}
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("swap" as const), i: index, j: index }).filter((m) => m.i !== m.j),
  fc.record({ kind: fc.constant("delete" as const), i: index, count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("duplicate" as const), i: index, to: index }),
  fc.record({ kind: fc.constant("insert-forged" as const), i: index }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("rehashed-edit" as const), i: index, reason: fc.string({ maxLength: 20 }) }),
  fc.record({ kind: fc.constant("rehashed-delete" as const), i: index }),
  fc.record({ kind: fc.constant("resigned-edit" as const), i: index }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

async function apply(m: Mutation): Promise<{ bytes: Buffer; stored: Checkpoints }> {
  const list = lines(log);
  const records = list.map((line) => JSON.parse(line) as AuditRecord);
  switch (m.kind) {
    case "flip": {
      const bytes = Buffer.from(log);
      const at = m.at % bytes.length;
      bytes[at] = (bytes[at] as number) ^ (1 << m.bit);
      return { bytes, stored: checkpoints };
    }
    case "swap":
      [list[m.i], list[m.j]] = [list[m.j] as string, list[m.i] as string];
      return { bytes: join_(list), stored: checkpoints };
    case "delete":
      list.splice(m.i, m.count);
      return { bytes: join_(list), stored: checkpoints };
    case "duplicate":
      list.splice(m.to, 0, list[m.i] as string);
      return { bytes: join_(list), stored: checkpoints };
    case "insert-forged": {
      const forged = rehash([
        ...records.slice(0, m.i),
        { ...(records[m.i] as AuditRecord), reason: "forged" },
      ]);
      list.splice(m.i, 0, forged.at(-1) as string);
      return { bytes: join_(list), stored: checkpoints };
    }
    case "truncate":
      return { bytes: log.subarray(0, m.at % log.length), stored: checkpoints };
    case "rehashed-edit":
      (records[m.i] as AuditRecord).reason = `${(records[m.i] as AuditRecord).reason}${m.reason}!`;
      return { bytes: join_(rehash(records)), stored: checkpoints };
    case "rehashed-delete":
      records.splice(m.i, 1);
      return { bytes: join_(rehash(records)), stored: checkpoints };
    case "resigned-edit": {
      (records[m.i] as AuditRecord).outcome = "allow";
      (records[m.i] as AuditRecord).actor = "someone-else";
      const rewritten = rehash(records);
      return { bytes: join_(rewritten), stored: await resign(rewritten) };
    }
  }
}

describe("tamper detection (property)", () => {
  it("the untouched log verifies", async () => {
    const report = await verifyAuditLog(memorySource(log, checkpoints), { trust: pki.trust, sealKey });
    expect(report).toMatchObject({
      ok: true,
      records: RECORDS,
      checkpoints: 4,
      unsignedRecords: TAIL,
      sealedUnsignedRecords: TAIL,
    });
  });

  it("detects every one of hundreds of random mutations", async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const { bytes, stored } = await apply(m);
        if (dropsOnlyTailSuffix(bytes)) return; // no checkpoint or seal can show a missing end (see below)
        if (touchesOnlyASignedSeal(bytes)) return; // under a checkpoint the signature speaks (see below)
        const report = await verifyAuditLog(memorySource(bytes, stored), { trust: pki.trust, sealKey });
        // In the tail, a chain recomputed without the seal key shows as records without a valid seal.
        const forgedTail = report.ok && report.sealedUnsignedRecords !== report.unsignedRecords;
        expect(!report.ok || forgedTail, `${JSON.stringify(m)} went unnoticed`).toBe(true);
        if (!report.ok) expect(report.problem?.code).toMatch(/^ERR_/);
        const key = forgedTail ? `${m.kind}:unsealed-tail` : `${m.kind}:${report.problem?.kind}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }),
      { numRuns: 400 },
    );
    for (const kind of [
      "flip",
      "swap",
      "delete",
      "duplicate",
      "insert-forged",
      "truncate",
      "rehashed-edit",
    ]) {
      expect(
        [...seen.keys()].some((key) => key.startsWith(`${kind}:`)),
        kind,
      ).toBe(true);
    }
    // The tail branch was reached: some forgeries after the last checkpoint were caught by their seals.
    expect([...seen.keys()].filter((key) => key.endsWith(":unsealed-tail")).length).toBeGreaterThan(0);
  });

  it("does not check the seal of a record a signed checkpoint covers (the signature does that)", async () => {
    const list = lines(log);
    list[3] = (list[3] as string).replace(
      /"seal":"(.)/,
      (_m, c: string) => `"seal":"${c === "0" ? "1" : "0"}`,
    );
    const report = await verifyAuditLog(memorySource(join_(list), checkpoints), {
      trust: pki.trust,
      sealKey,
    });
    expect(report).toMatchObject({ ok: true, sealedUnsignedRecords: TAIL });
  });

  it("cannot see records removed from the end of the unsigned tail (the witness and close-time checkpoint are the defence)", async () => {
    const cut = join_(lines(log).slice(0, RECORDS - 2));
    const report = await verifyAuditLog(memorySource(cut, checkpoints), { trust: pki.trust, sealKey });
    expect(report).toMatchObject({ ok: true, records: RECORDS - 2, unsignedRecords: TAIL - 2 });
  });

  it("names the problem: modified, missing, out-of-order, duplicated, rewritten, untrusted, truncated", async () => {
    const verify = async (m: Mutation) => {
      const { bytes, stored } = await apply(m);
      return (await verifyAuditLog(memorySource(bytes, stored), { trust: pki.trust })).problem;
    };
    expect(await verify({ kind: "delete", i: 5, count: 1 })).toMatchObject({
      kind: "missing",
      line: 6,
      seq: 5,
    });
    expect(await verify({ kind: "swap", i: 3, j: 4 })).toMatchObject({ kind: "missing", line: 4 });
    expect(await verify({ kind: "duplicate", i: 7, to: 8 })).toMatchObject({ kind: "duplicated", line: 9 });
    expect(await verify({ kind: "duplicate", i: 2, to: 8 })).toMatchObject({ kind: "out-of-order", line: 9 });
    expect(await verify({ kind: "rehashed-edit", i: 12, reason: "x" })).toMatchObject({
      code: "ERR_AUDIT_CHAIN_BROKEN",
      kind: "rewritten",
      treeSize: 20,
    });
    expect(await verify({ kind: "resigned-edit", i: 1 })).toMatchObject({
      code: "ERR_AUDIT_CHECKPOINT_INVALID",
      signatureCode: "ERR_UNTRUSTED_SIGNER",
    });
    const cut = lines(log).slice(0, 33);
    const report = await verifyAuditLog(memorySource(join_(cut), checkpoints), { trust: pki.trust });
    expect(report.problem).toMatchObject({ code: "ERR_AUDIT_TRUNCATED", treeSize: 40 });
  });
});
