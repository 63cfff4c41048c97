import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GrowingCopy } from "../src/internal/fs-copy.js";

// The staged copy read while the kernel still writes it: a read never returns bytes the copy does not
// hold yet, and a copy that fails is never read as if whole. The "kernel" here is this test, appending.

function manualCopy(): { whole: Promise<void>; end: () => void; fail: (error: Error) => void } {
  let end = () => {};
  let fail: (error: Error) => void = () => {};
  const whole = new Promise<void>((resolve, reject) => {
    end = resolve;
    fail = reject;
  });
  whole.catch(() => {});
  return { whole, end, fail };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("GrowingCopy", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-growing-copy-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("waits for the file to exist, then for every byte a read asks for, and reads the rest once the copy ends", async () => {
    const path = join(dir, "data");
    const copy = manualCopy();
    const opening = GrowingCopy.open(path, copy.whole, true);
    await tick(5);
    await writeFile(path, Buffer.alloc(3, 1));
    const growing = await opening;
    const buffer = Buffer.alloc(8);
    let done = false;
    const reading = growing.read(buffer, 0, 8, 0).then((result) => {
      done = true;
      return result;
    });
    await tick(10);
    expect(done).toBe(false); // 3 of 8 bytes: still waiting
    await appendFile(path, Buffer.alloc(6, 2));
    expect(await reading).toEqual(expect.objectContaining({ bytesRead: 8 }));
    expect([...buffer]).toEqual([1, 1, 1, 2, 2, 2, 2, 2]);
    // one byte left, fewer than asked for: given only once the copy has ended
    let tailDone = false;
    const tail = growing.read(buffer, 0, 8, 8).then((result) => {
      tailDone = true;
      return result;
    });
    await tick(10);
    expect(tailDone).toBe(false);
    copy.end();
    expect(await tail).toEqual(expect.objectContaining({ bytesRead: 1 }));
    await growing.handle.close();
  });

  it("rejects a read, and the open, of a copy that failed", async () => {
    const path = join(dir, "data");
    const copy = manualCopy();
    await writeFile(path, Buffer.alloc(4));
    const growing = await GrowingCopy.open(path, copy.whole, true);
    const reading = growing.read(Buffer.alloc(8), 0, 8, 0);
    copy.fail(Object.assign(new Error("no space"), { code: "ENOSPC" }));
    await expect(reading).rejects.toMatchObject({ code: "ENOSPC" });
    await growing.handle.close();

    const never = manualCopy();
    const opening = GrowingCopy.open(join(dir, "never-made"), never.whole, true);
    never.fail(Object.assign(new Error("unreadable source"), { code: "EACCES" }));
    await expect(opening).rejects.toMatchObject({ code: "EACCES" });
  });

  it("opens only once the copy has ended where copies cannot be followed", async () => {
    const path = join(dir, "data");
    const copy = manualCopy();
    await writeFile(path, Buffer.alloc(2));
    let opened = false;
    const opening = GrowingCopy.open(path, copy.whole, false).then((growing) => {
      opened = true;
      return growing;
    });
    await tick(10);
    expect(opened).toBe(false);
    copy.end();
    const growing = await opening;
    expect(await growing.read(Buffer.alloc(4), 0, 4, 0)).toEqual(expect.objectContaining({ bytesRead: 2 }));
    await growing.handle.close();
  });
});
