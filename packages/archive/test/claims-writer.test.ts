import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createPackageWriter, verifyPackage } from "@custody/archive";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";

// packages/archive/README.md: ERR_CONFLICT for a writer already finalized; the package it made stays
// as it was.
let pki: TestPki;
let dir = "";
beforeAll(async () => {
  pki = await createTestPki();
  dir = await mkdtemp(join(tmpdir(), "custody-writer-claims-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function codeOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
    return "no error";
  } catch (error) {
    return error instanceof CustodyError ? error.code : "not a CustodyError";
  }
}

describe("a finalized package writer", () => {
  it("refuses more entries and a second finalize with ERR_CONFLICT, and its package still verifies", async () => {
    const out = join(dir, "done.zip");
    const writer = createPackageWriter(out, { name: "done", device, collector, signer: pki.signer });
    await writer.addStream("Notes/a.txt", Readable.from(["first\n"]));
    await writer.finalize();
    expect(await codeOf(() => writer.addStream("Notes/b.txt", Readable.from(["late\n"])))).toBe(
      "ERR_CONFLICT",
    );
    expect(await codeOf(() => writer.finalize())).toBe("ERR_CONFLICT");
    const report = await verifyPackage(out, { trust: { trustAnchors: [pki.caPem] } });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
