import { createReadStream, createWriteStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isCustodyError } from "@custody/core";
import { createDigestStream, type HashAlgorithm, hashStream } from "@custody/hash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openssl, pseudoRandomBytes, tempDir } from "./helpers.js";

const ALL: HashAlgorithm[] = ["sha256", "sha1", "md5", "sha512"];
let dir: string;
let cleanup: () => Promise<void>;
let sample: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("digest"));
  sample = join(dir, "sample.bin");
  await writeFile(sample, pseudoRandomBytes(3 * 1024 * 1024 + 17));
});
afterAll(() => cleanup());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isCustodyError(error)) return error.code;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("hashStream", () => {
  it("computes sha256 by default and every requested digest in one read, like openssl", async () => {
    expect(await hashStream(createReadStream(sample))).toEqual({
      size: 3 * 1024 * 1024 + 17,
      digests: { sha256: openssl("sha256", sample) },
    });
    const all = await hashStream(createReadStream(sample), { algorithms: ALL });
    for (const algorithm of ALL) expect(all.digests[algorithm]).toBe(openssl(algorithm, sample));
    expect(Object.keys(all.digests)).toEqual(ALL);
  });

  it("knows the digests of nothing", async () => {
    const result = await hashStream(Readable.from([]), { algorithms: ["sha256", "md5"] });
    expect(result).toEqual({
      size: 0,
      digests: {
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        md5: "d41d8cd98f00b204e9800998ecf8427e",
      },
    });
  });

  it("refuses unknown or badly spelled algorithms before reading", async () => {
    for (const algorithms of [["sha3-256"], ["SHA256"], ["sha-256"], [], ["md4"]]) {
      const stream = createReadStream(sample);
      expect(await codeOf(hashStream(stream, { algorithms: algorithms as HashAlgorithm[] }))).toBe(
        "ERR_UNSUPPORTED_ALGORITHM",
      );
      expect(stream.bytesRead).toBe(0);
      stream.destroy();
    }
  });

  it("rejects with the read error, and no digest, when the source fails mid-way", async () => {
    async function* failing() {
      yield Buffer.from("first chunk");
      throw Object.assign(new Error("disk on fire"), { code: "EIO" });
    }
    const error = await hashStream(Readable.from(failing())).catch((e: unknown) => e);
    expect(isCustodyError(error, "ERR_IO")).toBe(true);
    expect((error as Error).message).toContain("disk on fire");
  });

  it("aborts a stalled stream and destroys it", async () => {
    const stalled = new Readable({ read() {} });
    stalled.push(Buffer.from("some"));
    const controller = new AbortController();
    const promise = hashStream(stalled, { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect(await codeOf(promise)).toBe("ERR_ABORTED");
    expect(stalled.destroyed).toBe(true);
    expect(await codeOf(hashStream(Readable.from([]), { abortSignal: AbortSignal.abort() }))).toBe(
      "ERR_ABORTED",
    );
  });

  it("refuses something that is not a stream", async () => {
    for (const bad of [null, undefined, "text", Buffer.from("bytes"), 42, {}]) {
      expect(await codeOf(hashStream(bad as unknown as Readable))).toBe("ERR_INVALID_ARGUMENT");
    }
  });

  it("refuses text chunks, whose bytes are no longer the evidence's", async () => {
    const text = createReadStream(sample).setEncoding("latin1");
    expect(await codeOf(hashStream(text))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(hashStream(Readable.from([{ not: "bytes" }])))).toBe("ERR_INVALID_ARGUMENT");
  });
});

describe("createDigestStream", () => {
  it("copies the bytes unchanged and digests them in the same pass", async () => {
    const copy = join(dir, "copy.bin");
    const digest = createDigestStream({ algorithms: ["sha256", "sha512"] });
    expect(() => digest.result()).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    await pipeline(createReadStream(sample), digest, createWriteStream(copy));
    expect(Buffer.compare(await readFile(copy), await readFile(sample))).toBe(0);
    expect(digest.result()).toEqual({
      size: 3 * 1024 * 1024 + 17,
      digests: { sha256: openssl("sha256", sample), sha512: openssl("sha512", sample) },
    });
    expect(digest.bytes).toBe(3 * 1024 * 1024 + 17);
  });

  it("has its result by the 'finish' event", async () => {
    const digest = createDigestStream();
    const seen = new Promise((resolve) => digest.on("finish", () => resolve(digest.result())));
    digest.resume();
    digest.end(Buffer.from("abc"));
    expect(await seen).toEqual({
      size: 3,
      digests: { sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    });
  });

  it("refuses unknown algorithms at creation", () => {
    expect(() => createDigestStream({ algorithms: ["crc32" as HashAlgorithm] })).toThrow(
      expect.objectContaining({ code: "ERR_UNSUPPORTED_ALGORITHM" }),
    );
  });

  it("fails the pipeline when the source fails, so no digest of a partial copy exists", async () => {
    const digest = createDigestStream();
    const broken = new Readable({
      read() {
        this.destroy(new Error("source broke"));
      },
    });
    await expect(pipeline(broken, digest, createWriteStream(join(dir, "partial.bin")))).rejects.toThrow(
      "source broke",
    );
    expect(() => digest.result()).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  });
});
