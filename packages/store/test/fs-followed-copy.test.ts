import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsEvidenceStore, startEarlyCopy } from "@custody/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// A large whole file is hashed as the kernel copies it into the staging area: these tests hold the
// store to what it stores being exactly what it named, and to refusing a source that changes meanwhile.

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const MiB = 1024 * 1024;

describe("FsEvidenceStore hashing a large file's copy as the kernel makes it", () => {
  let dir: string;
  let root: string;
  let source: string;
  let content: Buffer;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-followed-copy-"));
    root = join(dir, "store");
    source = join(dir, "source.bin");
    // large enough to be hashed on a worker, as the copy is read while the kernel writes it
    content = Buffer.concat([randomBytes(MiB), Buffer.alloc(63 * MiB + 4321, 0x3c), randomBytes(777)]);
    await writeFile(source, content);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const place = async (written: { sha256: string }) => ({ key: `case/${written.sha256}` });

  /** Changes the source's change time every millisecond until stopped (its bytes stay the same). */
  function keepTouching(file: string): () => Promise<void> {
    let touching = true;
    const loop = (async () => {
      while (touching) {
        const now = new Date();
        await utimes(file, now, now);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    return async () => {
      touching = false;
      await loop;
    };
  }

  it("stores the file under the digest of its bytes, every byte shown to the observer once, in order", async () => {
    const store = await FsEvidenceStore.open(root);
    const seen = createHash("sha256");
    let next = 0;
    let whole: Promise<void> | undefined;
    const stored = await store.createAddressed(createReadStream(source), {
      observeStaged: async (_path, copied) => {
        whole = copied;
        return (chunk, position) => {
          expect(position).toBe(next);
          next += chunk.byteLength;
          seen.update(chunk);
        };
      },
      place,
    });
    await expect(whole).resolves.toBeUndefined();
    expect(seen.digest("hex")).toBe(sha256(content));
    expect(stored).toMatchObject({ size: content.length, sha256: sha256(content) });
    const data = join(root, "objects", "case", `=${sha256(content)}`, "data");
    expect((await readFile(data)).equals(content)).toBe(true);
  });

  it("refuses a source whose change time moves while the kernel copies it: nothing stored, nothing left", async () => {
    const store = await FsEvidenceStore.open(root);
    const stop = keepTouching(source);
    const refused = await store
      .createAddressed(createReadStream(source), { place })
      .catch((error: unknown) => error)
      .finally(stop);
    expect(refused).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    expect(String((refused as Error).message)).toContain("changed while it was copied");
    expect(await Array.fromAsync(store.list())).toEqual([]);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });

  it("refuses the same way with an early copy offered: taken or not, a changing source is never stored", async () => {
    const store = await FsEvidenceStore.open(root);
    const copy = startEarlyCopy(root, source);
    if (copy === undefined) throw new Error("no early copy started");
    const stop = keepTouching(source);
    const refused = await store
      .createAddressed(createReadStream(source), { place, earlyCopy: copy })
      .catch((error: unknown) => error)
      .finally(stop);
    copy.discard();
    await copy.settled;
    expect(refused).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    expect(await Array.fromAsync(store.list())).toEqual([]);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });

  it("takes an early copy the kernel may still be writing, and stores exactly the file", async () => {
    const store = await FsEvidenceStore.open(root);
    const copy = startEarlyCopy(root, source);
    if (copy === undefined) throw new Error("no early copy started");
    const stored = await store.createAddressed(createReadStream(source), { place, earlyCopy: copy });
    copy.discard();
    expect(stored).toMatchObject({ size: content.length, sha256: sha256(content) });
    const data = join(root, "objects", "case", `=${sha256(content)}`, "data");
    expect((await readFile(data)).equals(content)).toBe(true);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });

  it("fails the create when an observer that keeps the bytes rejects later: nothing stored", async () => {
    const store = await FsEvidenceStore.open(root);
    let calls = 0;
    const failed = await store
      .createAddressed(createReadStream(source), {
        observeStaged: async () => (_chunk, _position) => {
          calls += 1;
          // the third chunk's promise rejects after the store has gone on reading
          return calls === 3
            ? new Promise<void>((_resolve, reject) =>
                setTimeout(() => reject(new Error("observer failed")), 20),
              )
            : Promise.resolve();
        },
        place,
      })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).cause).toMatchObject({ message: "observer failed" });
    expect(await Array.fromAsync(store.list())).toEqual([]);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });
});
