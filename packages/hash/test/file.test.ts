import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import { type HashAlgorithm, hashFile } from "@custody/hash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openssl, pseudoRandomBytes, tempDir } from "./helpers.js";

const ALL: HashAlgorithm[] = ["sha256", "sha1", "md5", "sha512"];
let dir: string;
let cleanup: () => Promise<void>;
let large: string;
const LARGE_BYTES = 40 * 1024 * 1024 + 123; // above the size where worker threads share the work

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("file"));
  large = join(dir, "large.bin");
  await writeFile(large, pseudoRandomBytes(LARGE_BYTES, 7));
});
afterAll(() => cleanup());

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isCustodyError(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("hashFile", () => {
  it("hashes small files, empty files and odd sizes like openssl", async () => {
    for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1]) {
      const file = join(dir, `f${size}`);
      await writeFile(file, pseudoRandomBytes(size, size + 1));
      const result = await hashFile(file, { algorithms: ["sha256", "md5"] });
      expect(result).toEqual({
        size,
        digests: { sha256: openssl("sha256", file), md5: openssl("md5", file) },
      });
    }
  });

  it("spreads several algorithms over worker threads on large files, same digests", async () => {
    const result = await hashFile(large, { algorithms: ALL });
    expect(result.size).toBe(LARGE_BYTES);
    for (const algorithm of ALL) expect(result.digests[algorithm]).toBe(openssl(algorithm, large));
    expect(Object.keys(result.digests)).toEqual(ALL);
    const single = await hashFile(large);
    expect(single.digests).toEqual({ sha256: result.digests.sha256 });
  });

  it("reports progress after every chunk, ending at the file's size", async () => {
    for (const algorithms of [["sha256"], ALL] as HashAlgorithm[][]) {
      const seen: number[] = [];
      await hashFile(large, { algorithms, onProgress: (bytes) => seen.push(bytes) });
      expect(seen.length).toBe(Math.ceil(LARGE_BYTES / (1024 * 1024)));
      expect(seen.at(-1)).toBe(LARGE_BYTES);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    }
  });

  it("aborts a large parallel hash and leaves no worker behind", async () => {
    const controller = new AbortController();
    // Abort once the first chunk is through: mid-hash on any machine, however fast or loaded.
    const promise = hashFile(large, {
      algorithms: ALL,
      abortSignal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect((await errorOf(promise)).code).toBe("ERR_ABORTED");
    expect((await errorOf(hashFile(large, { abortSignal: AbortSignal.abort() }))).code).toBe("ERR_ABORTED");
  });

  it("maps open failures to coded errors", async () => {
    expect((await errorOf(hashFile(join(dir, "missing")))).code).toBe("ERR_NOT_FOUND");
    expect((await errorOf(hashFile(dir))).code).toBe("ERR_INVALID_ARGUMENT");
    expect((await errorOf(hashFile(large, { algorithms: ["whirlpool" as HashAlgorithm] }))).code).toBe(
      "ERR_UNSUPPORTED_ALGORITHM",
    );
  });

  it("refuses paths that are not plain strings, before touching the filesystem", async () => {
    for (const bad of ["", "a\0b", 42, undefined, null, { path: "x" }]) {
      expect((await errorOf(hashFile(bad as string))).code).toBe("ERR_INVALID_ARGUMENT");
    }
  });

  it("rejects with the read error and no digest when the kernel fails the read", async () => {
    // /proc/self/mem opens fine but reading address 0 fails with EIO, even for root.
    const error = await errorOf(hashFile("/proc/self/mem"));
    expect(error.code).toBe("ERR_IO");
    expect(error.message).toMatch(/EIO|input\/output/i);
  });

  it("reads pseudo-files that report size 0 to their real end", async () => {
    const expected = readFileSync("/proc/self/mountinfo");
    expect(statSync("/proc/self/mountinfo").size).toBe(0);
    const result = await hashFile("/proc/self/mountinfo", { algorithms: ["sha256"] });
    expect(result.size).toBe(expected.length);
    expect(result.size).toBeGreaterThan(0);
    expect(result.digests.sha256).toBe(createHash("sha256").update(expected).digest("hex"));
  });

  it("reads a FIFO to its end (short reads are not mistaken for the end)", async () => {
    const fifo = join(dir, "pipe");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // A writer that pauses between two halves, so the reader sees a short read before the end.
    const writer = spawn("sh", [
      "-c",
      `{ head -c 70000 "${large}"; sleep 0.2; tail -c +70001 "${large}" | head -c 30000; } > "${fifo}"`,
    ]);
    const closed = new Promise((resolve) => writer.on("close", resolve));
    const result = await hashFile(fifo, { algorithms: ["sha256"] });
    await closed;
    const expected = spawnSync("sh", ["-c", `head -c 100000 "${large}" | openssl dgst -sha256 -r`], {
      encoding: "utf8",
    }).stdout.split(" ")[0];
    expect(result).toEqual({ size: 100000, digests: { sha256: expected } });
    expect(existsSync(fifo)).toBe(true);
  });
});
