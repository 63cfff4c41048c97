import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquire } from "@custody/acquire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceLab, deviceMapperUnavailable, faultyFsUnavailable, loopUnavailable } from "./devices.js";
import { expectCode, makeVault, readBack, storedObjectCount, type TestVault } from "./helpers.js";

const MIB = 1024 * 1024;
let t: TestVault;
const lab = new DeviceLab();

beforeAll(async () => {
  t = await makeVault("custody-acquire-dev-");
});

afterAll(async () => {
  await lab.cleanup();
  await t?.cleanup();
});

async function randomImage(name: string, bytes: number): Promise<{ path: string; data: Buffer }> {
  const path = join(t.work, name);
  const data = randomBytes(bytes);
  await writeFile(path, data);
  return { path, data };
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe.skipIf(loopUnavailable !== undefined)(`a loop device ${loopUnavailable ?? ""}`, () => {
  it("is acquired with its /sys identification, and restores byte-identical", async () => {
    const { path, data } = await randomImage("loop.img", 6 * MIB + 4096);
    const device = lab.loop(path);
    const item = await acquire(t.vault, t.alice, device, { caseId: "IR-18", name: "suspect-disk" });
    expect(item.id).toBe(sha256(data));
    expect(item.digests.md5).toBe(createHash("md5").update(data).digest("hex"));
    expect(item.image?.source).toMatchObject({
      kind: "block-device",
      path: device,
      size: data.length,
      sectorSize: 512,
    });
    expect(item.image?.source.identification).toMatchObject({ loopBackingFile: path });
    expect(item.image?.readErrors).toEqual([]);
    expect(await readBack(t, item.id)).toEqual({ sha256: item.id, size: data.length });
  });

  it("refuses a device that shrinks during acquisition, storing nothing", async () => {
    const { path } = await randomImage("shrink.img", 8 * MIB);
    const device = lab.loop(path);
    const before = storedObjectCount(t);
    let cut = false;
    const shrinking = acquire(t.vault, t.alice, device, {
      caseId: "IR-18",
      chunkBytes: MIB,
      onProgress: (bytes) => {
        if (bytes >= 2 * MIB && !cut) {
          cut = true;
          execFileSync("truncate", ["-s", "3M", path]);
          execFileSync("losetup", ["--set-capacity", device]);
        }
      },
    });
    await expectCode(shrinking, "ERR_SOURCE_CHANGED");
    expect(storedObjectCount(t)).toBe(before);
  });
});

describe.skipIf(faultyFsUnavailable !== undefined)(
  `a block device with bad sectors ${faultyFsUnavailable ?? ""}`,
  () => {
    it("retries the failing sectors, zero-fills and records them, and goes on", async () => {
      const { path, data } = await randomImage("failing.img", 12 * MIB);
      const mountpoint = join(t.work, "faulty");
      await mkdir(mountpoint);
      const bad: [number, number][] = [
        [5 * MIB + 8192, 8192],
        [9 * MIB, 4096],
      ];
      const device = lab.loop(await lab.faultyFs(path, mountpoint, bad));
      const item = await acquire(t.vault, t.alice, device, {
        caseId: "IR-18-bad",
        chunkBytes: MIB,
        retries: 2,
        verifySource: true,
      });
      const expected = Buffer.from(data);
      for (const [start, length] of bad) expected.fill(0, start, start + length);
      expect(item.image?.readErrors).toEqual(
        bad.map(([offset, length]) => ({ offset, length, code: "EIO" })),
      );
      expect(item.image?.readErrorBytes).toBe(12_288);
      expect(item.image?.retries).toBe((12_288 / 512) * 2);
      expect(item.id).toBe(sha256(expected));
      // The second read meets the same bad sectors and zero-fills them the same way.
      expect(item.image?.verification).toMatchObject({ matched: true, sha256: item.id });
      expect(await readBack(t, item.id)).toEqual({ sha256: item.id, size: data.length });
      expect(await t.vault.check(t.alice, item.id)).toMatchObject([{ ok: true }]);
    });
  },
);

describe.skipIf(deviceMapperUnavailable !== undefined)(
  `a device-mapper error target ${deviceMapperUnavailable ?? ""}`,
  () => {
    it("zero-fills and records the sectors the error target fails", async () => {
      const { path, data } = await randomImage("dm.img", 4 * MIB);
      const loop = lab.loop(path);
      const sectors = data.length / 512;
      const table = `0 2048 linear ${loop} 0\n2048 8 error\n2056 ${sectors - 2056} linear ${loop} 2056\n`;
      const device = lab.deviceMapper(`custody-test-${process.pid}`, table);
      const real = execFileSync("realpath", [device], { encoding: "utf8" }).trim();
      const item = await acquire(t.vault, t.alice, real, { caseId: "IR-18-dm", chunkBytes: MIB });
      const expected = Buffer.from(data);
      expected.fill(0, MIB, MIB + 4096);
      expect(item.id).toBe(sha256(expected));
      expect(item.image?.readErrors).toEqual([{ offset: MIB, length: 4096, code: "EIO" }]);
      expect(item.image?.source.identification.deviceMapperName).toBe(`custody-test-${process.pid}`);
    });
  },
);
