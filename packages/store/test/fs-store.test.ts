import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import { FsEvidenceStore } from "@custody/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => (isCustodyError(e) ? e.code : `not a CustodyError: ${String(e)}`),
  );
}

// A pid that cannot be alive (above the kernel's pid_max), so its leftovers count as a dead writer's.
const DEAD_PID = 4_194_304 + 17;

describe("FsEvidenceStore on disk", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-fs-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes data and record read-only, beside each other, and leaves no temp files", async () => {
    const store = await FsEvidenceStore.open(dir);
    await store.create("case/item", bytes("evidence"));
    const objectDir = join(dir, "objects", "case", "=item");
    expect((await readdir(objectDir)).sort()).toEqual(["data", "meta.json", "state-0000000000.json"]);
    expect((await stat(join(objectDir, "data"))).mode & 0o777).toBe(0o444);
    expect((await stat(join(objectDir, "meta.json"))).mode & 0o777).toBe(0o444);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("refuses a directory that is not a store, and a store of an unknown format", async () => {
    await writeFile(join(dir, "unrelated.txt"), "x");
    expect(await codeOf(FsEvidenceStore.open(dir))).toBe("ERR_INVALID_ARGUMENT");
    const other = join(dir, "other");
    await mkdir(other);
    await writeFile(join(other, "custody-store.json"), JSON.stringify({ format: "custody.fs-store/v99" }));
    expect(await codeOf(FsEvidenceStore.open(other))).toBe("ERR_UNSUPPORTED_VERSION");
    expect(await codeOf(FsEvidenceStore.open(""))).toBe("ERR_INVALID_ARGUMENT");
  });

  it("cleans a dead writer's leftovers on open, but not a live one's", async () => {
    await FsEvidenceStore.open(dir);
    await mkdir(join(dir, "tmp", `${DEAD_PID}-abc.create`));
    await writeFile(join(dir, "tmp", `${DEAD_PID}-abc.create`, "data"), "partial");
    await writeFile(join(dir, "tmp", "garbage"), "x");
    await mkdir(join(dir, "tmp", `${process.pid}-live.create`));
    await FsEvidenceStore.open(dir);
    expect(await readdir(join(dir, "tmp"))).toEqual([`${process.pid}-live.create`]);
  });

  it("finishes a delete that a killed process had decided (tombstone + journal)", async () => {
    const store = await FsEvidenceStore.open(dir);
    const record = await store.create("gone", bytes("x"));
    const objectDir = join(dir, "objects", "=gone");
    const tombstone = { revision: 1, legalHold: false, deleted: true, changedAt: new Date().toISOString() };
    await writeFile(join(objectDir, "state-0000000001.json"), JSON.stringify(tombstone));
    await writeFile(
      join(dir, "tmp", `${DEAD_PID}-j.delete`),
      JSON.stringify({ key: "gone", version: record.version }),
    );
    expect(await codeOf(store.head("gone"))).toBe("ERR_NOT_FOUND");
    expect(await codeOf(store.create("gone", bytes("y")))).toBe("ERR_CONFLICT");
    const reopened = await FsEvidenceStore.open(dir);
    expect(await readdir(join(dir, "objects"))).toEqual([]);
    expect((await reopened.create("gone", bytes("y"))).size).toBe(1);
  });

  it("reports a damaged record as an integrity problem, in head and in verify", async () => {
    const store = await FsEvidenceStore.open(dir);
    await store.create("a", bytes("x"));
    await store.create("b", bytes("y"));
    const meta = join(dir, "objects", "=a", "meta.json");
    await chmod(meta, 0o644);
    await writeFile(meta, "{not json");
    expect(await codeOf(store.head("a"))).toBe("ERR_INTEGRITY_MISMATCH");
    const results = [];
    for await (const r of store.verify()) results.push([r.key, r.kind]);
    expect(results).toEqual([
      ["a", "error"],
      ["b", "ok"],
    ]);
  });

  it("detects a truncated data file on read and in verify", async () => {
    const store = await FsEvidenceStore.open(dir);
    await store.create("t", bytes("0123456789"));
    const data = join(dir, "objects", "=t", "data");
    await chmod(data, 0o644);
    await writeFile(data, "01234");
    const chunks: Buffer[] = [];
    const read = (async () => {
      for await (const c of await store.read("t")) chunks.push(c as Buffer);
    })();
    expect(await codeOf(read)).toBe("ERR_INTEGRITY_MISMATCH");
    for await (const r of store.verify()) {
      expect(r).toMatchObject({ kind: "mismatch", key: "t", expected: { size: 10 }, actual: { size: 5 } });
    }
  });

  it("reports missing data under a live record as damage, not as absence", async () => {
    const store = await FsEvidenceStore.open(dir);
    await store.create("m", bytes("x"));
    await store.create("n", bytes("y"));
    await rm(join(dir, "objects", "=m", "data"));
    expect(await codeOf(store.read("m"))).toBe("ERR_INTEGRITY_MISMATCH");
    const kinds = [];
    for await (const r of store.verify()) kinds.push([r.key, r.kind]);
    expect(kinds).toEqual([
      ["m", "error"],
      ["n", "ok"],
    ]);
  });

  it("refuses a body stream that was already destroyed, and stores nothing", async () => {
    const { Readable } = await import("node:stream");
    const store = await FsEvidenceStore.open(dir);
    const dead = Readable.from([Buffer.from("x")]);
    dead.destroy();
    expect(await codeOf(store.create("dead", dead))).toBe("ERR_INVALID_ARGUMENT");
    const failed = new Readable({ read() {} });
    // The caller saw its own stream fail (without a listener the error would be uncaught in this test).
    failed.on("error", () => {});
    failed.destroy(new Error("device unplugged"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await codeOf(store.create("failed", failed))).toBe("ERR_IO");
    expect(await readdir(join(dir, "objects"))).toEqual([]);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("refuses retention that is not a future instant", async () => {
    const store = await FsEvidenceStore.open(dir);
    await store.create("r", bytes("x"));
    expect(await codeOf(store.extendRetention("r", new Date(Date.now() - 1000)))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    expect(await codeOf(store.extendRetention("r", "tomorrow" as never))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(store.create("s", bytes("x"), { retainUntil: new Date(Date.now() - 1) }))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    expect(await codeOf(store.setLegalHold("r", "on" as never))).toBe("ERR_INVALID_ARGUMENT");
  });

  it("keeps concurrent hold and retention changes: none is lost", async () => {
    const store = await FsEvidenceStore.open(dir);
    await store.create("c", bytes("x"));
    const base = Date.now() + 3_600_000;
    await Promise.all([
      store.setLegalHold("c", true),
      ...Array.from({ length: 8 }, (_, i) =>
        store.extendRetention("c", new Date(base + i * 1000)).catch(() => undefined),
      ),
    ]);
    const head = await store.head("c");
    expect(head.legalHold).toBe(true);
    expect(head.retainUntil?.getTime()).toBe(base + 7000);
  });
});
