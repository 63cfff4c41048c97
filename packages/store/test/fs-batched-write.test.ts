import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { FsEvidenceStore } from "@custody/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** A body of chunks of the given sizes (copies the writer must not keep), yielded with a pause between. */
async function* chunked(bytes: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number;
    const chunk = Buffer.from(bytes.subarray(offset, offset + size));
    offset += chunk.length;
    yield chunk;
    if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("the fs store's batched writes", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-batched-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps every byte in order whatever the chunk sizes, with creates sharing the batch buffers at once", async () => {
    const store = await FsEvidenceStore.open(join(dir, "store"));
    const MiB = 1024 * 1024;
    // records, odd sizes, a chunk of exactly one batch, larger ones written as they are, and a tail
    const bodies = [
      { sizes: [16_384, 1, 16_383, 65_536], bytes: randomBytes(5 * MiB + 7) },
      { sizes: [MiB, 3, MiB - 3, 3 * MiB + 1], bytes: randomBytes(9 * MiB + 5) },
      { sizes: [700_001, 2 * MiB, 12], bytes: randomBytes(6 * MiB) },
      { sizes: [100], bytes: randomBytes(250) },
    ];
    const stored = await Promise.all(
      bodies.map((body, i) => store.create(`case/batched-${i}`, chunked(body.bytes, body.sizes), {})),
    );
    for (const [i, body] of bodies.entries()) {
      expect(stored[i]).toMatchObject({ size: body.bytes.length, sha256: sha256(body.bytes) });
      expect(sha256(await buffer(await store.read(`case/batched-${i}`)))).toBe(sha256(body.bytes));
    }
    // the buffers went back to the pool: the next creates take them again and stay whole
    const again = randomBytes(4 * MiB + 1);
    const [a, b] = await Promise.all([
      store.create("case/again-a", chunked(again, [16_384]), {}),
      store.create("case/again-b", chunked(again, [999_999, 16]), {}),
    ]);
    expect(a.sha256).toBe(sha256(again));
    expect(b.sha256).toBe(sha256(again));
    expect(sha256(await buffer(await store.read("case/again-b")))).toBe(sha256(again));
  });
});
