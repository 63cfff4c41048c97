import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { isCustodyError } from "@custody/core";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createPackageWriter, openPackageReader, verifyPackage } from "../src/index.js";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";
import { textBlob } from "./helpers.js";

let dir: string;
let pki: TestPki;
let original: Buffer;
let originalContents: Map<string, string>;
let large: Buffer;
let largeContents: Map<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-tamper-"));
  pki = await createTestPki();
  const file = join(dir, "p.zip");
  const writer = createPackageWriter(file, { name: "P", device, collector, signer: pki.signer });
  await writer.addStream("Processes/ps.txt", Readable.from([textBlob(20_000)]));
  await writer.addStream("Services/svc.txt", Readable.from(["svc\n".repeat(10)]));
  await writer.finalize();
  original = await readFile(file);
  originalContents = await contents(file);
  // Entries past 1 MiB take the streaming path (chunked deflate, inflate stream, byte counting).
  const big = join(dir, "large.zip");
  const bigWriter = createPackageWriter(big, { name: "L", device, collector, signer: pki.signer });
  await bigWriter.addStream("Memory/strings.txt", Readable.from([textBlob(3_000_000, 9)]));
  await bigWriter.finalize();
  large = await readFile(big);
  largeContents = await contents(big);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const edit = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function apply(original: Buffer, change: Edit): Buffer {
  const at = change.at % original.length;
  if (change.kind === "flip")
    return Buffer.from(original).fill((original[at] ?? 0) ^ (1 << change.bit), at, at + 1);
  if (change.kind === "insert")
    return Buffer.concat([original.subarray(0, at), Buffer.from([change.byte]), original.subarray(at)]);
  if (change.kind === "truncate") return original.subarray(0, at);
  return Buffer.concat([original.subarray(0, at), original.subarray(at + 1)]);
}

let run = 0;
/** Verification either refuses with a code or reports problems; a pass means every file is byte-identical. */
async function check(bytes: Buffer, expected: Map<string, string>): Promise<void> {
  const file = join(dir, `t${run++}.zip`);
  await writeFile(file, bytes);
  try {
    const report = await verifyPackage(file, { trust: { trustAnchors: [pki.caPem] } });
    // A flip in a timestamp, a version field or padding changes no evidence and may pass.
    if (report.ok) expect(await contents(file)).toEqual(expected);
    else expect(report.problems.length).toBeGreaterThan(0);
  } catch (error) {
    expect(isCustodyError(error), String(error)).toBe(true);
  } finally {
    await rm(file, { force: true });
  }
}

const runs = Number(process.env.CUSTODY_TAMPER_RUNS ?? 150);

it("any changed, inserted or deleted byte, or a cut, is refused with a code or reported; a pass means identical evidence", async () => {
  await fc.assert(
    fc.asyncProperty(edit, (change) => check(apply(original, change), originalContents)),
    { numRuns: runs },
  );
});

it("the same holds for a large entry read as a stream", async () => {
  await fc.assert(
    fc.asyncProperty(edit, (change) => check(apply(large, change), largeContents)),
    { numRuns: Math.ceil(runs / 3) },
  );
});

async function contents(file: string): Promise<Map<string, string>> {
  const reader = await openPackageReader(file);
  try {
    const files = new Map<string, string>();
    for (const entry of reader.entries)
      files.set(entry.path, (await reader.readSmall(entry)).toString("base64"));
    return files;
  } finally {
    await reader.close();
  }
}
