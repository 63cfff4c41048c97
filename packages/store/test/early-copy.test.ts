import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EARLY_COPY_MAX_BYTES, type EarlyCopy, FsEvidenceStore, startEarlyCopy } from "@custody/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Waits for the copy the kernel makes to be whole (its size), as a store's take would. */
async function copied(copy: EarlyCopy, size: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const now = await stat(copy.path).catch(() => undefined);
    if (now?.size === size) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the early copy never completed");
}

async function tmpEntries(storeRoot: string): Promise<string[]> {
  return readdir(join(storeRoot, "tmp"));
}

describe("an early copy of a whole file into an fs store", () => {
  let dir: string;
  let root: string;
  let source: string;
  let content: Buffer;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-early-copy-"));
    root = join(dir, "store");
    source = join(dir, "source.bin");
    content = randomBytes(2 * 1024 * 1024 + 5);
    await writeFile(source, content);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Stores `file` whole under its digest, with `earlyCopy` offered, and discards it after, as the vault does. */
  async function ingest(store: FsEvidenceStore, file: string, earlyCopy: EarlyCopy | undefined) {
    try {
      return await store.createAddressed(createReadStream(file), {
        ...(earlyCopy === undefined ? {} : { earlyCopy }),
        place: async (written) => ({ key: `case/${written.sha256}` }),
      });
    } finally {
      earlyCopy?.discard();
    }
  }

  it("is taken by the store as its staged copy: the stored data is that very file, hashed", async () => {
    const store = await FsEvidenceStore.open(root);
    const copy = startEarlyCopy(root, source);
    if (copy === undefined) throw new Error("no early copy started");
    expect(copy.path.startsWith(join(root, "tmp"))).toBe(true);
    await copied(copy, content.length);
    const copyInode = (await stat(copy.path)).ino;
    const stored = await ingest(store, source, copy);
    expect(stored).toMatchObject({ size: content.length, sha256: sha256(content) });
    const data = join(root, "objects", "case", `=${sha256(content)}`, "data");
    // the same inode: renamed into place, not copied again
    expect((await stat(data)).ino).toBe(copyInode);
    expect((await stat(data)).mode & 0o777).toBe(0o444);
    expect((await readFile(data)).equals(content)).toBe(true);
    expect(await tmpEntries(root)).toEqual([]);
  });

  it("is not taken when the source changed after the copy began: the store copies it again", async () => {
    const store = await FsEvidenceStore.open(root);
    const copy = startEarlyCopy(root, source);
    if (copy === undefined) throw new Error("no early copy started");
    await copied(copy, content.length);
    // same size, one byte different, the times set back: only the change time tells
    const changed = Buffer.from(content);
    changed[0] = (changed[0] ?? 0) ^ 0xff;
    const before = await stat(source);
    await writeFile(source, changed);
    await utimes(source, before.atime, before.mtime);
    // the early copy holds the bytes before the change: taken, they would be what is stored
    const stored = await ingest(store, source, copy);
    expect(stored).toMatchObject({ size: changed.length, sha256: sha256(changed) });
    const data = join(root, "objects", "case", `=${sha256(changed)}`, "data");
    expect((await readFile(data)).equals(changed)).toBe(true);
    expect(await tmpEntries(root)).toEqual([]);
  });

  it("is not taken when the source grew, nor for another file, nor by another store", async () => {
    const store = await FsEvidenceStore.open(root);
    const other = await FsEvidenceStore.open(join(dir, "other-store"));
    const grown = startEarlyCopy(root, source);
    await copied(grown as EarlyCopy, content.length);
    await appendFile(source, "more");
    const all = Buffer.concat([content, Buffer.from("more")]);
    expect(await ingest(store, source, grown)).toMatchObject({ sha256: sha256(all) });

    const second = join(dir, "second.bin");
    await writeFile(second, randomBytes(4096));
    const ofSource = startEarlyCopy(root, source);
    await copied(ofSource as EarlyCopy, all.length);
    expect(await ingest(store, second, ofSource)).toMatchObject({ sha256: sha256(await readFile(second)) });

    const elsewhere = startEarlyCopy(root, source);
    await copied(elsewhere as EarlyCopy, all.length);
    expect(await ingest(other, source, elsewhere)).toMatchObject({ sha256: sha256(all) });
    expect(await tmpEntries(root)).toEqual([]);
    expect(await tmpEntries(join(dir, "other-store"))).toEqual([]);
  });

  it("starts nothing for what is not a regular file with bytes, for a file over 2 GiB, or where there is no fs store", async () => {
    await FsEvidenceStore.open(root);
    const empty = join(dir, "empty.bin");
    await writeFile(empty, "");
    await mkdir(join(dir, "a-directory"));
    expect(spawnSync("mkfifo", [join(dir, "fifo")]).status).toBe(0);
    // over the limit (sparse: no bytes on disk): the kernel's copy could not be stopped if the command fails
    const huge = join(dir, "huge.bin");
    await writeFile(huge, "");
    await truncate(huge, EARLY_COPY_MAX_BYTES + 1);
    for (const file of [empty, huge, join(dir, "a-directory"), join(dir, "fifo"), join(dir, "missing.bin")]) {
      expect(startEarlyCopy(root, file)).toBeUndefined();
    }
    expect(startEarlyCopy(dir, source)).toBeUndefined();
    expect(startEarlyCopy(join(dir, "nowhere"), source)).toBeUndefined();
    // a path through a file: ENOTDIR, not a throw
    expect(startEarlyCopy(join(source, "store"), source)).toBeUndefined();
    expect(startEarlyCopy(root, join(source, "inside"))).toBeUndefined();
    expect(await tmpEntries(root)).toEqual([]);
  });

  it("leaves nothing behind when discarded while the kernel is still copying", async () => {
    await FsEvidenceStore.open(root);
    const large = join(dir, "large.bin");
    await writeFile(large, Buffer.alloc(256 * 1024 * 1024, 0x5a));
    const copy = startEarlyCopy(root, large);
    if (copy === undefined) throw new Error("no early copy started");
    copy.discard();
    // the kernel may not even have made the file yet: what is left is judged once its copy has ended
    await copy.settled;
    expect(await tmpEntries(root)).toEqual([]);
    // a discarded copy is never taken
    const store = await FsEvidenceStore.open(root);
    const stored = await ingest(store, large, copy);
    expect(stored.size).toBe(256 * 1024 * 1024);
  });

  it("left by a process that died is removed by the store's next open", async () => {
    await FsEvidenceStore.open(root);
    const script = `
      const { startEarlyCopy } = await import(${JSON.stringify(storeModule())});
      const copy = startEarlyCopy(${JSON.stringify(root)}, ${JSON.stringify(source)});
      const { stat } = await import("node:fs/promises");
      while ((await stat(copy.path).catch(() => undefined))?.size !== ${content.length}) await new Promise((r) => setTimeout(r, 5));
      process.kill(process.pid, "SIGKILL");`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script]);
    expect(child.signal).toBe("SIGKILL");
    expect((await tmpEntries(root)).some((name) => name.endsWith(".early"))).toBe(true);
    await FsEvidenceStore.open(root);
    expect(await tmpEntries(root)).toEqual([]);
  });
});

/** The built package, as a real embedding process runs it. */
function storeModule(): string {
  return new URL("../dist/index.js", import.meta.url).href;
}
