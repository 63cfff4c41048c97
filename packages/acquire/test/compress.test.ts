import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquire } from "@custody/acquire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode, makeVault, readBack, systemDigests, type TestVault } from "./helpers.js";

const MIB = 1024 * 1024;
const zstdMissing = spawnSync("zstd", ["--version"]).status !== 0;
let t: TestVault;

beforeAll(async () => {
  t = await makeVault("custody-acquire-zstd-");
});

afterAll(async () => {
  await t?.cleanup();
});

/** A disk-like image: mostly zeros (unused space), some text, some random data. */
async function diskLikeImage(path: string): Promise<Buffer> {
  const data = Buffer.alloc(12 * MIB);
  randomBytes(2 * MIB).copy(data, MIB);
  Buffer.from("filesystem metadata ".repeat(100_000)).copy(data, 5 * MIB);
  await writeFile(path, data);
  return data;
}

function storedDataFiles(): string[] {
  const out = execFileSync("find", [join(t.work, "vault"), "-name", "data", "-type", "f"], {
    encoding: "utf8",
  });
  return out.split("\n").filter((line) => line !== "");
}

describe("--compress zstd", () => {
  it("stores a zstd image; the id and digests are the raw bytes', and read returns the raw image", async () => {
    const image = join(t.work, "disk.img");
    const data = await diskLikeImage(image);
    const item = await acquire(t.vault, t.alice, image, { caseId: "IR-18-z", compress: "zstd" });
    expect(item.digests).toEqual(systemDigests(image));
    expect(item.size).toBe(data.length);
    const storedAs = item.image?.storedAs;
    expect(storedAs?.encoding).toBe("zstd");
    expect(storedAs?.size).toBeLessThan(data.length / 2);
    expect(await readBack(t, item.id)).toEqual({ sha256: item.id, size: data.length });
    expect(await t.vault.check(t.alice, item.id)).toMatchObject([{ ok: true }]);
    const [stored] = storedDataFiles();
    const bytes = await readFile(stored ?? "");
    expect(bytes.subarray(0, 4).toString("hex")).toBe("28b52ffd"); // a standard zstd frame
    expect(bytes.length).toBe(storedAs?.size);
  });

  it.skipIf(zstdMissing)(
    `the zstd tool restores the raw image from the stored object ${zstdMissing ? "(zstd is not installed)" : ""}`,
    async () => {
      const image = join(t.work, "interop.img");
      const data = await diskLikeImage(image);
      const before = new Set(storedDataFiles());
      await acquire(t.vault, t.alice, image, { caseId: "IR-18-interop", compress: "zstd" });
      const stored = storedDataFiles().find((file) => !before.has(file));
      const restored = execFileSync("zstd", ["-d", "-c", stored ?? ""], { maxBuffer: 64 * MIB });
      expect(restored.equals(data)).toBe(true);
    },
  );

  it("a byte changed in the stored zstd image fails read and check", async () => {
    const image = join(t.work, "tampered.img");
    await diskLikeImage(image);
    const before = new Set(storedDataFiles());
    const item = await acquire(t.vault, t.alice, image, { caseId: "IR-18-tamper", compress: "zstd" });
    const stored = storedDataFiles().find((file) => !before.has(file)) ?? "";
    await chmod(stored, 0o644);
    const bytes = await readFile(stored);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(stored, bytes);
    await expectCode(readBack(t, item.id), "ERR_INTEGRITY_MISMATCH");
    expect(await t.vault.check(t.alice, item.id)).toMatchObject([
      { ok: false, code: "ERR_INTEGRITY_MISMATCH" },
    ]);
  });
});
