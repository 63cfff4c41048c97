import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHUNK_SIZE, fileChunks, streamChunks } from "../src/zip/chunks.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-chunks-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2.5 * CHUNK_SIZE];

it("reads files of every size around the chunk boundary exactly, in full chunks", async () => {
  for (const size of sizes) {
    const data = randomBytes(size);
    const file = join(dir, `f${size}`);
    await writeFile(file, data);
    const chunks: Buffer[] = [];
    for await (const chunk of fileChunks(file)) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(chunks.slice(0, -1).every((chunk) => chunk.length === CHUNK_SIZE)).toBe(true);
  }
});

it("regroups a stream's pieces of any size into full chunks", async () => {
  const data = randomBytes(3 * CHUNK_SIZE + 123);
  const pieces = [
    data.subarray(0, 10),
    data.subarray(10, 2 * CHUNK_SIZE + 5),
    data.subarray(2 * CHUNK_SIZE + 5),
  ];
  const chunks: Buffer[] = [];
  for await (const chunk of streamChunks(Readable.from(pieces))) chunks.push(chunk);
  expect(Buffer.concat(chunks).equals(data)).toBe(true);
  expect(chunks.map((chunk) => chunk.length)).toEqual([CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 123]);
});
