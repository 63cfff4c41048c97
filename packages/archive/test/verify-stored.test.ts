import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPackageWriter, verifyPackage } from "../src/index.js";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";

// A large incompressible entry is stored, not deflated: verification scans it through one reused buffer.
let dir: string;
let pki: TestPki;
let good: string;
const payload = randomBytes(3 * 1024 * 1024 + 5);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-verify-stored-"));
  pki = await createTestPki();
  good = join(dir, "good.zip");
  const writer = createPackageWriter(good, { name: "PKG-S", device, collector, signer: pki.signer });
  await writer.addStream("Memory/image.bin", Readable.from([payload]));
  await writer.finalize();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("verifying a large stored entry", () => {
  it("accepts the package as written", async () => {
    const report = await verifyPackage(good, { trust: { trustAnchors: [pki.caPem] } });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("reports one flipped byte deep inside the entry (its CRC-32 no longer matches)", async () => {
    const bytes = await readFile(good);
    const at = bytes.indexOf(payload.subarray(2_000_000, 2_000_032));
    expect(at).toBeGreaterThan(0);
    bytes[at + 7] = (bytes[at + 7] ?? 0) ^ 0xff;
    const bad = join(dir, "flipped.zip");
    await writeFile(bad, bytes);
    const report = await verifyPackage(bad, { trust: { trustAnchors: [pki.caPem] } });
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ code: "ERR_INTEGRITY_MISMATCH", path: "data/Memory/image.bin" }),
    );
  });
});
