import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamChunks } from "../src/zip/chunks.js";
import { writeEntry } from "../src/zip/entry.js";
import { ZipWriter } from "../src/zip/writer.js";
import { hasTool, textBlob } from "./helpers.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-zip-"));
});
afterAll(async () => {
  if (!process.env.KEEP) await rm(dir, { recursive: true, force: true });
});

const at = new Date("2026-01-02T03:04:06Z");

async function writeZip(file: string, entries: [string, Buffer][], forceZip64 = false) {
  const zip = await ZipWriter.create(file, { forceZip64 });
  const results = [];
  for (const [name, data] of entries) {
    const chunks = streamChunks(Readable.from([data]));
    const options = { name, path: name, level: 6, modifiedAt: at, turn: Promise.resolve() };
    results.push(await writeEntry(zip, chunks, options));
  }
  await zip.finish();
  return results;
}

const sample: [string, Buffer][] = [
  ["pkg/empty.txt", Buffer.alloc(0)],
  ["pkg/small.txt", Buffer.from("hello custody\n")],
  ["pkg/text-3mib.log", textBlob(3 * 1024 * 1024 + 17)],
  ["pkg/random.bin", randomBytes(2 * 1024 * 1024 + 5)],
  ["pkg/naïve ünïcode.txt", Buffer.from("unicode name\n".repeat(50))],
];

describe.skipIf(!hasTool("unzip"))("ZipWriter with unzip", () => {
  for (const forceZip64 of [false, true]) {
    it(`writes archives unzip accepts and reproduces byte for byte (forceZip64=${forceZip64})`, async () => {
      const file = join(dir, `sample-${forceZip64}.zip`);
      const results = await writeZip(file, sample, forceZip64);
      expect(results.map((r) => r.method)).toEqual(["store", "store", "deflate", "store", "deflate"]);
      execFileSync("unzip", ["-tq", file]);
      for (const [index, [name, data]] of sample.entries()) {
        const out = execFileSync("unzip", ["-p", file, name], { maxBuffer: 64 * 1024 * 1024 });
        expect(out.equals(data)).toBe(true);
        expect(results[index]?.sha256).toBe(createHash("sha256").update(data).digest("hex"));
      }
      const listing = execFileSync("zipinfo", ["-v", file]).toString();
      expect(listing.includes("PKWARE 64-bit sizes")).toBe(forceZip64);
    });
  }
});

it("refuses to overwrite an existing file", async () => {
  const file = join(dir, "exists.zip");
  await writeZip(file, []);
  await expect(ZipWriter.create(file)).rejects.toMatchObject({ code: "EEXIST" });
  expect((await readFile(file)).length).toBe(22);
});
