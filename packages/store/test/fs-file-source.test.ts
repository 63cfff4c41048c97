import { createHash, randomBytes } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { FsEvidenceStore } from "@custody/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("FsEvidenceStore with a file as the body", () => {
  let dir: string;
  let source: string;
  let content: Buffer;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-fs-file-"));
    source = join(dir, "source.bin");
    content = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(source, content);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("stores a whole file (copied by the kernel) under the digest of the copy, read-only", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const stored = await store.create("case/file", createReadStream(source), { sizeHint: content.length });
    expect(stored).toMatchObject({ size: content.length, sha256: sha256(content) });
    expect((await buffer(await store.read("case/file"))).equals(content)).toBe(true);
    const data = join(dir, "store", "objects", "case", "=file", "data");
    expect((await stat(data)).mode & 0o777).toBe(0o444);
  });

  it("hashes a large staged copy on a worker thread, a last short read included, to the same digest", async () => {
    // 32 MiB and up go to the worker; an odd size ends with a read shorter than the read buffer
    const large = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(33 * 1024 * 1024 + 12_345, 0x5a)]);
    const file = join(dir, "large.bin");
    await writeFile(file, large);
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const stored = await store.create("case/large", createReadStream(file), { sizeHint: large.length });
    expect(stored).toMatchObject({ size: large.length, sha256: sha256(large) });
    const wrong = await store
      .create("case/large-wrong", createReadStream(file), { expectedSha256: sha256(content) })
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
  });

  it("stores only the range a partial file stream reads", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const stored = await store.create("case/part", createReadStream(source, { start: 10, end: 99 }));
    expect(stored).toMatchObject({ size: 90, sha256: sha256(content.subarray(10, 100)) });
  });

  it("refuses a file whose bytes are not the expected digest, leaving nothing", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const error = await store
      .create("case/wrong", createReadStream(source), { expectedSha256: "0".repeat(64) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    await expect(store.head("case/wrong")).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
  });

  it("shows the staged copy to onStaged and place, which see every byte before the commit", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    let early: Buffer | undefined;
    let seen: { sha256: string; size: number; bytes: Buffer } | undefined;
    const stored = await store.createAddressed(createReadStream(source), {
      onStaged: (path) => {
        // synchronous on purpose: the bytes are all there when it is called
        early = readFileSync(path);
      },
      place: async (written) => {
        if (written.stagedPath === undefined) throw new Error("no staged path");
        seen = { sha256: written.sha256, size: written.size, bytes: await readFile(written.stagedPath) };
        return { key: `case/${written.sha256}` };
      },
    });
    // Buffer.equals, not toEqual: a deep comparison of 3 MiB element by element takes a minute under load
    expect(early?.equals(content)).toBe(true);
    expect(seen?.bytes.equals(content)).toBe(true);
    expect({ sha256: seen?.sha256, size: seen?.size }).toEqual({
      sha256: sha256(content),
      size: content.length,
    });
    expect(stored.key).toBe(`case/${sha256(content)}`);
  });

  it("shows every byte of its read of the staged copy to observeStaged's observer, in order, once", async () => {
    // small (hashed in this thread) and large (hashed on a worker): the observer sees the same read
    const large = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(33 * 1024 * 1024 + 12_345, 0x5a)]);
    const file = join(dir, "large.bin");
    await writeFile(file, large);
    for (const [body, bytes] of [
      [source, content],
      [file, large],
    ] as const) {
      const store = await FsEvidenceStore.open(join(dir, `store-${bytes.length}`));
      const seen = createHash("sha256");
      let next = 0;
      let observedAt: string | undefined;
      const stored = await store.createAddressed(createReadStream(body), {
        observeStaged: async (path) => {
          observedAt = path;
          return async (chunk, position) => {
            expect(position).toBe(next);
            next += chunk.byteLength;
            seen.update(chunk);
          };
        },
        place: async (written) => {
          // the read is over before place: the observer has seen it all
          expect(next).toBe(bytes.length);
          expect(written.stagedPath).toBe(observedAt);
          return { key: `case/${written.sha256}` };
        },
      });
      expect(seen.digest("hex")).toBe(sha256(bytes));
      expect(stored).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
    }
  });

  it("stores nothing when observeStaged or its observer fails", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const place = async (written: { sha256: string }) => ({ key: `case/${written.sha256}` });
    const refused = await store
      .createAddressed(createReadStream(source), {
        observeStaged: async () => {
          throw Object.assign(new Error("no"), { code: "ERR_PACKAGE_INVALID" });
        },
        place,
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    const failed = await store
      .createAddressed(createReadStream(source), {
        observeStaged: async () => () => {
          throw new Error("observer failed");
        },
        place,
      })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect([...(await Array.fromAsync(store.list()))]).toEqual([]);
  });

  it("drops the staged copy when place refuses it", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const error = await store
      .createAddressed(createReadStream(source), {
        place: async () => {
          throw Object.assign(new Error("no"), { code: "ERR_PACKAGE_INVALID" });
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect([...(await Array.fromAsync(store.list()))]).toEqual([]);
  });
});
