import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RingFileWriter } from "../src/internal/fs-ring-write.js";
import { ThreadedSha256Hasher } from "../src/internal/hasher.js";

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** A real file whose writes start late: slower than the hashing, as a busy disk is. */
function slowWrites(real: FileHandle, failAt?: number): FileHandle {
  let writes = 0;
  return {
    write: async (bytes: Uint8Array, offset: number, length: number) => {
      writes += 1;
      await sleep(8);
      if (writes === failAt) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
      return real.write(bytes, offset, length);
    },
  } as unknown as FileHandle;
}

/** Feeds `body` in chunks of the given sizes, as a socket would, awaiting only when asked to. */
async function feed(writer: RingFileWriter, body: Buffer, sizes: number[]): Promise<void> {
  let offset = 0;
  for (let i = 0; offset < body.length; i++) {
    const size = sizes[i % sizes.length] as number;
    // a copy, as each TLS record is a buffer of its own: the writer must not keep it
    const room = writer.add(Buffer.from(body.subarray(offset, offset + size)));
    if (room !== undefined) await room;
    offset += size;
  }
}

describe("writing a streamed body through the hashing ring", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-ring-write-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes and hashes every byte in order, a slot never refilled while its write is still waiting", async () => {
    const body = randomBytes(1024 * 1024 + 12_345);
    const path = join(dir, "body.bin");
    const real = await open(path, "wx");
    const hasher = new ThreadedSha256Hasher({ slotBytes: 64 * 1024 });
    const writer = new RingFileWriter(slowWrites(real), hasher);
    try {
      await feed(writer, body, [16_384, 1, 16_383, 65_536, 100_000]);
      await writer.flush();
      expect((await hasher.digest()).sha256).toBe(sha256(body));
    } finally {
      await writer.close();
      hasher.dispose();
      await real.close();
    }
    expect(sha256(await readFile(path))).toBe(sha256(body));
  });

  it("a failed write fails the body at once with the disk's error, and gives every slot back", {
    timeout: 10_000,
  }, async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const real = await open(join(dir, "full.bin"), "wx");
    const hasher = new ThreadedSha256Hasher({ slotBytes: 64 * 1024 });
    const writer = new RingFileWriter(slowWrites(real, 3), hasher);
    try {
      await expect(
        (async () => {
          await feed(writer, body, [16_384]);
          await writer.flush();
        })(),
      ).rejects.toMatchObject({ code: "ENOSPC" });
      await writer.close();
      // every slot comes back to the ring: four claims, none given back, all succeed
      const slots = [];
      for (let i = 0; i < 4; i++) slots.push(await hasher.claim());
      for (const slot of slots) slot.release();
    } finally {
      hasher.dispose();
      await real.close();
    }
  });
});
