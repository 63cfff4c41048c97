import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ThreadedDigestStream, ThreadedHasher } from "@custody/hash";
import { describe, expect, it } from "vitest";

const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

describe("ThreadedDigestStream", () => {
  it("passes every byte through and digests them on a worker like node:crypto does", async () => {
    const data = randomBytes(19 * 1024 * 1024 + 3);
    const chunks = [data.subarray(0, 1), data.subarray(1, 9 * 1024 * 1024), data.subarray(9 * 1024 * 1024)];
    const digest = new ThreadedDigestStream({ algorithms: ["sha1", "md5", "sha256"] });
    const seen: Buffer[] = [];
    await pipeline(
      Readable.from(chunks),
      digest,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          seen.push(chunk);
          done();
        },
      }),
    );
    expect(Buffer.concat(seen).equals(data)).toBe(true);
    expect(digest.result()).toEqual({
      size: data.length,
      digests: {
        sha1: createHash("sha1").update(data).digest("hex"),
        md5: createHash("md5").update(data).digest("hex"),
        sha256: createHash("sha256").update(data).digest("hex"),
      },
    });
  });

  it("digests the same with smaller slots, chunks straddling them, and refuses a slot size out of range", async () => {
    const data = randomBytes(5 * 1024 * 1024 + 7);
    const chunks = [
      data.subarray(0, 100_000),
      data.subarray(100_000, 3 * 1024 * 1024),
      data.subarray(3 * 1024 * 1024),
    ];
    const digest = new ThreadedDigestStream({ algorithms: ["sha256"], slotBytes: 1024 * 1024 });
    await pipeline(Readable.from(chunks), digest, sink());
    expect(digest.result()).toEqual({
      size: data.length,
      digests: { sha256: createHash("sha256").update(data).digest("hex") },
    });
    for (const slotBytes of [0, 1000, 1.5 * 1024 * 1024 + 0.5, 8 * 1024 * 1024]) {
      expect(() => new ThreadedDigestStream({ slotBytes })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
    }
  });

  it("digests bytes read straight into claimed slots, a released slot counting for nothing", async () => {
    const data = randomBytes(9 * 1024 * 1024 + 5);
    const slotBytes = 1024 * 1024;
    const digest = new ThreadedDigestStream({ algorithms: ["sha256"], slotBytes });
    digest.resume();
    const unused = await digest.claimSlot();
    unused.bytes.fill(0x61);
    unused.release();
    // more slots than the ring has: later claims wait for the worker to give slots back
    for (let at = 0; at < data.length; at += slotBytes) {
      const slot = await digest.claimSlot();
      const n = data.copy(slot.bytes, 0, at, Math.min(at + slotBytes, data.length));
      slot.commit(n);
      expect(() => slot.commit(n)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    }
    const finished = new Promise((resolve) => digest.once("finish", resolve));
    digest.end();
    await finished;
    expect(digest.result()).toEqual({
      size: data.length,
      digests: { sha256: createHash("sha256").update(data).digest("hex") },
    });
  });

  it("gives no result before the end, and an aborted copy stops its worker", async () => {
    const digest = new ThreadedDigestStream();
    expect(() => digest.result()).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    async function* failing() {
      yield randomBytes(1024);
      throw new Error("the source failed");
    }
    await expect(pipeline(Readable.from(failing()), digest, sink())).rejects.toThrow("the source failed");
    expect(digest.destroyed).toBe(true);
  });
});

describe("ThreadedHasher.updateShared", () => {
  it("hashes bytes where they lie in shared memory, in order with copied ones, each kept only until its promise", async () => {
    const data = randomBytes(7 * 1024 * 1024 + 333);
    const hasher = new ThreadedHasher({ algorithms: ["sha256", "md5"], slotBytes: 1024 * 1024 });
    const shared = Buffer.from(new SharedArrayBuffer(2 * 1024 * 1024));
    let at = 0;
    let turn = 0;
    while (at < data.length) {
      const n = Math.min(turn % 3 === 0 ? 123_457 : 2 * 1024 * 1024, data.length - at);
      if (turn % 3 === 0) {
        await hasher.update(data.subarray(at, at + n)); // copied into the ring
      } else {
        data.copy(shared, 0, at, at + n);
        await hasher.updateShared(shared.subarray(0, n));
        shared.fill(0xee); // the workers are through: changing the bytes now changes nothing
      }
      at += n;
      turn += 1;
    }
    // bytes that are not in shared memory are copied in, as update does
    const tail = randomBytes(4096);
    await hasher.updateShared(tail);
    const all = Buffer.concat([data, tail]);
    expect(await hasher.digest()).toEqual({
      size: all.length,
      digests: {
        sha256: createHash("sha256").update(all).digest("hex"),
        md5: createHash("md5").update(all).digest("hex"),
      },
    });
  });

  it("rejects what still waits once stopped, and what comes after", async () => {
    const hasher = new ThreadedHasher({ algorithms: ["sha256"] });
    const shared = Buffer.from(new SharedArrayBuffer(64 * 1024 * 1024));
    const waiting = hasher.updateShared(shared);
    hasher.dispose();
    await expect(waiting).rejects.toMatchObject({ code: "ERR_INTERNAL" });
    await expect(hasher.updateShared(shared.subarray(0, 16))).rejects.toMatchObject({ code: "ERR_INTERNAL" });
  });
});
