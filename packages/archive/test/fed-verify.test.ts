import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPackageWriter, startPackageVerification, verifyPackage } from "../src/index.js";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";
import { swapInEntry } from "./swap.js";

// A verification fed by someone else's read of the file (a store hashing its copy): the large stored
// entry is hashed from the fed bytes, never read again, and the report is verifyPackage's.
let dir: string;
let pki: TestPki;
let good: string;
let goodBytes: Buffer;
const payload = randomBytes(3 * 1024 * 1024 + 5);
const trust = () => ({ trust: { trustAnchors: [pki.caPem] } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-fed-verify-"));
  pki = await createTestPki();
  good = join(dir, "good.zip");
  const writer = createPackageWriter(good, { name: "PKG-F", device, collector, signer: pki.signer });
  await writer.addStream("Memory/image.bin", Readable.from([payload]));
  await writer.finalize();
  goodBytes = await readFile(good);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Feeds `bytes` in chunks of `step` (reusing one buffer, as a store does), then finishes. With
 * `shared`, the buffer is shared memory (a store's hashing ring), hashed on a worker: the buffer is
 * reused once observe's promise settles.
 */
async function fed(file: string, bytes: Buffer, step = 1_000_003, upTo = bytes.length, shared = false) {
  const verification = await startPackageVerification(file, trust());
  const buffer = shared ? new Uint8Array(new SharedArrayBuffer(step)) : Buffer.alloc(step);
  for (let at = 0; at < upTo; at += step) {
    const n = Math.min(at + step, upTo) - at;
    buffer.set(bytes.subarray(at, at + n));
    await verification.observe(buffer.subarray(0, n), at);
    buffer.fill(0xee);
  }
  return verification.finish();
}

describe("a package verification fed by another read", () => {
  it("gives verifyPackage's report for a good package, whatever the chunk size", async () => {
    const expected = await verifyPackage(good, trust());
    expect(expected.ok).toBe(true);
    for (const step of [1 << 20, 65_537, 4 << 20]) {
      expect(await fed(good, goodBytes, step)).toEqual(expected);
    }
  });

  it("gives verifyPackage's report from chunks in shared memory, hashed on a worker thread", async () => {
    const expected = await verifyPackage(good, trust());
    for (const step of [1 << 20, 65_537]) {
      expect(await fed(good, goodBytes, step, goodBytes.length, true)).toEqual(expected);
    }
    const verification = await startPackageVerification(good, trust());
    const slot = new Uint8Array(new SharedArrayBuffer(goodBytes.length));
    slot.set(goodBytes);
    // The entry's bytes are with the worker until the promise settles.
    const hashing = verification.observe(slot, 0);
    expect(hashing).toBeInstanceOf(Promise);
    await hashing;
    expect(await verification.finish()).toEqual(expected);
  });

  it("copies to the worker a chunk in ordinary memory that follows one in shared memory", async () => {
    const expected = await verifyPackage(good, trust());
    const verification = await startPackageVerification(good, trust());
    const step = 1 << 20;
    const slot = new Uint8Array(new SharedArrayBuffer(step));
    slot.set(goodBytes.subarray(0, step));
    await verification.observe(slot, 0);
    const buffer = Buffer.alloc(step);
    for (let at = step; at < goodBytes.length; at += step) {
      const n = goodBytes.copy(buffer, 0, at, Math.min(at + step, goodBytes.length));
      expect(verification.observe(buffer.subarray(0, n), at)).toBeUndefined();
      buffer.fill(0xee);
    }
    expect(await verification.finish()).toEqual(expected);
  });

  it("hashes several large entries on one worker, chunks crossing from one entry to the next", async () => {
    const two = join(dir, "two.zip");
    const writer = createPackageWriter(two, { name: "PKG-2", device, collector, signer: pki.signer });
    const b = randomBytes(3 * 1024 * 1024 + 7);
    await writer.addStream("Memory/a.bin", Readable.from([randomBytes(2 * 1024 * 1024 + 3)]));
    await writer.addStream("Memory/b.bin", Readable.from([b]));
    await writer.finalize();
    const bytes = await readFile(two);
    const expected = await verifyPackage(two, trust());
    expect(expected.ok).toBe(true);
    for (const step of [1 << 20, 3_000_017]) {
      expect(await fed(two, bytes, step, bytes.length, true)).toEqual(expected);
    }
    // The second entry too is checked from the fed bytes: swapped there, the file's own bytes are refused.
    const swapped = swapInEntry(bytes, b, { fixCrc: true });
    const report = await fed(two, swapped, 3_000_017, swapped.length, true);
    expect(report.problems).toContainEqual(expect.objectContaining({ path: "data/Memory/b.bin" }));
  });

  it("refuses swapped bytes in shared memory, with and without the CRC-32 made to match", async () => {
    for (const fixCrc of [true, false]) {
      const swapped = swapInEntry(goodBytes, payload, { fixCrc });
      const bad = join(dir, `swapped-shared-${fixCrc}.zip`);
      await writeFile(bad, swapped);
      const report = await fed(bad, swapped, 1 << 20, swapped.length, true);
      expect(report.ok).toBe(false);
      expect(report).toEqual(await verifyPackage(bad, trust()));
      // Swapped bytes fed for the good file are refused too: the fed bytes are what is checked.
      expect((await fed(good, swapped, 1 << 20, swapped.length, true)).ok).toBe(false);
    }
  });

  it("refuses swapped bytes (same length) in the entry, with its CRC-32 made to match", async () => {
    const swapped = swapInEntry(goodBytes, payload, { fixCrc: true });
    const bad = join(dir, "swapped.zip");
    await writeFile(bad, swapped);
    const expected = await verifyPackage(bad, trust());
    // The BagIt manifest and the signed custody manifest both name another sha256; nothing else differs.
    expect(expected.problems.length).toBeGreaterThan(0);
    for (const problem of expected.problems) {
      expect(problem).toMatchObject({ code: "ERR_DIGEST_MISMATCH", path: "data/Memory/image.bin" });
    }
    expect(await fed(bad, swapped)).toEqual(expected);
  });

  it("refuses swapped bytes whose CRC-32 was left as it was", async () => {
    const swapped = swapInEntry(goodBytes, payload, { fixCrc: false });
    const bad = join(dir, "swapped-crc.zip");
    await writeFile(bad, swapped);
    const report = await fed(bad, swapped);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ code: "ERR_INTEGRITY_MISMATCH", path: "data/Memory/image.bin" }),
    );
    expect(report).toEqual(await verifyPackage(bad, trust()));
  });

  it("checks the bytes it is fed, not the file read again: swapped bytes fed for a good file are refused", async () => {
    const swapped = swapInEntry(goodBytes, payload, { fixCrc: false });
    const report = await fed(good, swapped);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ code: "ERR_INTEGRITY_MISMATCH", path: "data/Memory/image.bin" }),
    );
  });

  it("reads from the file what was not fed whole, or not in order", async () => {
    const expected = await verifyPackage(good, trust());
    expect(await fed(good, goodBytes, 1 << 20, 2 << 20)).toEqual(expected);
    const verification = await startPackageVerification(good, trust());
    verification.observe(goodBytes.subarray(0, 1 << 20), 0);
    verification.observe(goodBytes.subarray(2 << 20), 2 << 20);
    expect(await verification.finish()).toEqual(expected);
  });

  it("refuses a hostile archive before a byte is fed", async () => {
    const truncated = join(dir, "truncated.zip");
    await writeFile(truncated, goodBytes.subarray(0, goodBytes.length - 30));
    await expect(startPackageVerification(truncated, trust())).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_ARCHIVE_/),
    });
  });

  it("the test's swap changes bytes but not the length, and fixCrc makes the CRC-32 agree", () => {
    const swapped = swapInEntry(goodBytes, payload, { fixCrc: true });
    expect(swapped.length).toBe(goodBytes.length);
    expect(swapped.equals(goodBytes)).toBe(false);
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc32(payload) >>> 0);
    expect(swapped.indexOf(crcBytes)).toBe(-1);
  });
});
