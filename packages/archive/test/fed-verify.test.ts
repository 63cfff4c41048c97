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
 * Feeds `bytes` in chunks of `step` (reusing one buffer, as a store does: a shared one with `shared`,
 * as a store's ring), each kept until observe's promise settles, then finishes. `layoutOf`: see
 * startPackageVerification.
 */
async function fed(
  file: string,
  bytes: Buffer,
  step = 1_000_003,
  upTo = bytes.length,
  how: { shared?: boolean; layoutOf?: string } = {},
) {
  const verification = await startPackageVerification(file, trust(), how.layoutOf);
  const buffer = how.shared === true ? Buffer.from(new SharedArrayBuffer(step)) : Buffer.alloc(step);
  for (let at = 0; at < upTo; at += step) {
    const n = bytes.copy(buffer, 0, at, Math.min(at + step, upTo));
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
    // The old CRC-32 is left nowhere outside the entry's data (inside it, random bytes may hold it).
    const start = goodBytes.indexOf(payload.subarray(0, 64));
    const outside = [swapped.subarray(0, start), swapped.subarray(start + payload.length)];
    for (const part of outside) expect(part.indexOf(crcBytes)).toBe(-1);
  });

  it("hashes an entry of 32 MiB or more on a worker, from shared memory where it lies or copied, to the same report", async () => {
    const large = join(dir, "large.zip");
    const body = randomBytes(34 * 1024 * 1024 + 9);
    const writer = createPackageWriter(large, { name: "PKG-L", device, collector, signer: pki.signer });
    await writer.addStream("Disk/large.bin", Readable.from([body]));
    await writer.finalize();
    const bytes = await readFile(large);
    const expected = await verifyPackage(large, trust());
    expect(expected.ok).toBe(true);
    expect(await fed(large, bytes, 2 * 1024 * 1024, bytes.length, { shared: true })).toEqual(expected);
    expect(await fed(large, bytes, 1_000_003)).toEqual(expected);
    // and swapped bytes fed through the worker are refused as in this thread
    const swapped = swapInEntry(bytes, body, { fixCrc: true });
    const bad = join(dir, "large-swapped.zip");
    await writeFile(bad, swapped);
    const report = await fed(bad, swapped, 2 * 1024 * 1024, swapped.length, { shared: true });
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ code: "ERR_DIGEST_MISMATCH", path: "data/Disk/large.bin" }),
    );
    expect(report).toEqual(await verifyPackage(bad, trust()));
  });
});

describe("a fed verification whose layout is read from the file being copied (layoutOf)", () => {
  it("gives verifyPackage's report for the file itself when the layout comes from a copy of it", async () => {
    const copy = join(dir, "layout-copy.zip");
    await writeFile(copy, goodBytes);
    expect(await fed(good, goodBytes, 1 << 20, goodBytes.length, { layoutOf: copy })).toEqual(
      await verifyPackage(good, trust()),
    );
  });

  it("checks the file's own bytes: a layout taken from the good package does not let swapped bytes pass", async () => {
    for (const fixCrc of [true, false]) {
      const swapped = swapInEntry(goodBytes, payload, { fixCrc });
      const bad = join(dir, `layout-swapped-${fixCrc}.zip`);
      await writeFile(bad, swapped);
      const report = await fed(bad, swapped, 1 << 20, swapped.length, { layoutOf: good });
      expect(report.ok).toBe(false);
      expect(report).toEqual(await verifyPackage(bad, trust()));
    }
  });

  it("reads again what the file does not place where the layout said: another package's layout changes nothing", async () => {
    const other = join(dir, "other-layout.zip");
    const writer = createPackageWriter(other, { name: "PKG-F", device, collector, signer: pki.signer });
    await writer.addStream("Memory/first.bin", Readable.from([randomBytes(1024 * 1024 + 3)]));
    await writer.addStream("Memory/image.bin", Readable.from([randomBytes(payload.length)]));
    await writer.finalize();
    expect(await fed(good, goodBytes, 1 << 20, goodBytes.length, { layoutOf: other })).toEqual(
      await verifyPackage(good, trust()),
    );
  });

  it("refuses, at finish, a file that is not a package even though its layout source is one", async () => {
    const notZip = join(dir, "not-a-zip.bin");
    await writeFile(notZip, randomBytes(goodBytes.length));
    await expect(fed(notZip, goodBytes, 1 << 20, goodBytes.length, { layoutOf: good })).rejects.toMatchObject(
      {
        code: expect.stringMatching(/^ERR_ARCHIVE_/),
      },
    );
  });
});
