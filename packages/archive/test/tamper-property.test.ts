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
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("any changed, inserted or deleted byte is refused with a code or reported; a pass means identical evidence", async () => {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  );
  let run = 0;
  await fc.assert(
    fc.asyncProperty(edit, async (change) => {
      const at = change.at % original.length;
      const bytes =
        change.kind === "flip"
          ? Buffer.from(original).fill(original[at] ^ (1 << change.bit), at, at + 1)
          : change.kind === "insert"
            ? Buffer.concat([original.subarray(0, at), Buffer.from([change.byte]), original.subarray(at)])
            : Buffer.concat([original.subarray(0, at), original.subarray(at + 1)]);
      const file = join(dir, `t${run++}.zip`);
      await writeFile(file, bytes);
      try {
        const report = await verifyPackage(file, { trust: { trustAnchors: [pki.caPem] } });
        // A pass is allowed only when every file still has exactly the original bytes (a flip in a
        // timestamp, a version field or padding changes no evidence).
        if (report.ok) expect(await contents(file)).toEqual(originalContents);
        else expect(report.problems.length).toBeGreaterThan(0);
      } catch (error) {
        expect(isCustodyError(error), String(error)).toBe(true);
      } finally {
        await rm(file, { force: true });
      }
    }),
    { numRuns: Number(process.env.CUSTODY_TAMPER_RUNS ?? 150) },
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
