import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fixedClock, isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPackageWriter, extractPackage, openPackageReader, verifyPackage } from "../src/index.js";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";
import { textBlob } from "./helpers.js";
import { buildZip, type RawEntry } from "./hostile-zip.js";

let dir: string;
let pki: TestPki;
let good: string;
let trust: { trustAnchors: string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-verify-"));
  pki = await createTestPki();
  trust = { trustAnchors: [pki.caPem] };
  good = join(dir, "good.zip");
  const writer = createPackageWriter(good, { name: "PKG-1", device, collector, signer: pki.signer });
  await writer.addStream("Processes/ps.txt", Readable.from([textBlob(300_000)]), { source: "ps -ef" });
  await writer.addStream("Memory/raw.bin", Readable.from([randomBytes(100_000)]));
  await writer.addStream("Services/list.txt", Readable.from(["svc\n"]));
  await writer.finalize();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Re-packs the good package's files after `edit`, with correct ZIP CRCs: only the bag's own checks can notice. */
async function tampered(label: string, edit: (files: Map<string, Buffer>) => void): Promise<string> {
  const reader = await openPackageReader(good);
  const files = new Map<string, Buffer>();
  for (const entry of reader.entries) files.set(entry.path, await reader.readSmall(entry));
  await reader.close();
  edit(files);
  const entries: RawEntry[] = [...files].map(([path, content]) => ({
    name: `PKG-1/${path}`,
    content,
    method: 8,
  }));
  const file = join(dir, `${label}.zip`);
  await writeFile(file, buildZip(entries));
  return file;
}

const codes = (report: { problems: { code: string; path?: string }[] }) =>
  report.problems.map((problem) => `${problem.code} ${problem.path ?? ""}`).sort();

describe("verifyPackage", () => {
  it("accepts a package the writer made, reporting who signed it", async () => {
    const report = await verifyPackage(good, { trust });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.name).toBe("PKG-1");
    expect(report.signature?.signer.subject).toContain("Test Collector");
    expect(report.manifest?.items.map((item) => item.path)).toEqual([
      "CollectionSummary.csv",
      "data/Memory/raw.bin",
      "data/Processes/ps.txt",
      "data/Services/list.txt",
    ]);
    expect(report.payloadBytes).toBe(400_004);
  });

  it("reports an untrusted signer", async () => {
    const other = await createTestPki();
    const report = await verifyPackage(good, { trust: { trustAnchors: [other.caPem] } });
    expect(report.ok).toBe(false);
    expect(codes(report)).toEqual(["ERR_UNTRUSTED_SIGNER custody-manifest.json.p7s"]);
  });

  it("reports an expired certificate at the verification time", async () => {
    const report = await verifyPackage(good, { trust, clock: fixedClock("2090-01-01T00:00:00Z") });
    expect(codes(report)).toEqual(["ERR_CERT_EXPIRED custody-manifest.json.p7s"]);
  });

  it("reports a changed payload file against both manifests", async () => {
    const file = await tampered("changed", (files) =>
      files.set("data/Services/list.txt", Buffer.from("SVC\n")),
    );
    expect(codes(await verifyPackage(file, { trust }))).toEqual([
      "ERR_DIGEST_MISMATCH data/Services/list.txt",
      "ERR_DIGEST_MISMATCH data/Services/list.txt",
    ]);
  });

  it("reports an added payload file as unlisted, with the Payload-Oxum", async () => {
    const file = await tampered("added", (files) =>
      files.set("data/Services/extra.txt", Buffer.from("planted\n")),
    );
    expect(codes(await verifyPackage(file, { trust }))).toEqual([
      "ERR_OXUM_MISMATCH bag-info.txt",
      "ERR_UNLISTED_ENTRY data/Services/extra.txt",
      "ERR_UNLISTED_ENTRY data/Services/extra.txt",
    ]);
  });

  it("reports a removed payload file as missing", async () => {
    const file = await tampered("removed", (files) => files.delete("data/Memory/raw.bin"));
    expect(codes(await verifyPackage(file, { trust }))).toEqual([
      "ERR_MISSING_ENTRY data/Memory/raw.bin",
      "ERR_MISSING_ENTRY data/Memory/raw.bin",
      "ERR_OXUM_MISMATCH bag-info.txt",
    ]);
  });

  it("reports a changed custody manifest (signature, tag manifest and bag-info all notice)", async () => {
    const file = await tampered("manifest", (files) => {
      const bytes = files.get("custody-manifest.json") as Buffer;
      files.set("custody-manifest.json", Buffer.from(bytes.toString().replace("analyst@", "mallory@")));
    });
    expect(codes(await verifyPackage(file, { trust }))).toEqual([
      "ERR_DIGEST_MISMATCH bag-info.txt",
      "ERR_DIGEST_MISMATCH custody-manifest.json",
      "ERR_DIGEST_MISMATCH custody-manifest.json.p7s",
    ]);
  });

  it("reports a missing collection summary and signature", async () => {
    const file = await tampered("summary", (files) => {
      files.delete("CollectionSummary.csv");
      files.delete("custody-manifest.json.p7s");
    });
    expect(codes(await verifyPackage(file, { trust }))).toEqual([
      "ERR_MISSING_ENTRY CollectionSummary.csv",
      "ERR_MISSING_ENTRY CollectionSummary.csv",
      "ERR_MISSING_ENTRY CollectionSummary.csv",
      "ERR_MISSING_ENTRY custody-manifest.json.p7s",
      "ERR_MISSING_ENTRY custody-manifest.json.p7s",
    ]);
  });

  it("reports a flipped byte inside the archive by the entry's CRC", async () => {
    const bytes = await readFile(good);
    const at = bytes.indexOf(Buffer.from("svc\n"));
    bytes[at] = "S".charCodeAt(0);
    const file = join(dir, "flipped.zip");
    await writeFile(file, bytes);
    const report = await verifyPackage(file, { trust });
    expect(codes(report)).toContain("ERR_INTEGRITY_MISMATCH data/Services/list.txt");
  });
});

describe("extractPackage", () => {
  it("extracts a verified package into an empty folder", async () => {
    const target = join(dir, "extracted");
    const report = await extractPackage(good, target, { trust });
    expect(report.ok).toBe(true);
    expect(await readdir(join(target, "PKG-1", "data"))).toEqual(["Memory", "Processes", "Services"]);
    expect(await readFile(join(target, "PKG-1", "data", "Services", "list.txt"), "utf8")).toBe("svc\n");
  });

  it("refuses a non-empty target", async () => {
    const target = join(dir, "busy");
    await mkdir(target);
    await writeFile(join(target, "keep.txt"), "mine");
    await expect(extractPackage(good, target, { trust })).rejects.toSatisfy((e) =>
      isCustodyError(e, "ERR_TARGET_NOT_EMPTY"),
    );
    expect(await readdir(target)).toEqual(["keep.txt"]);
  });

  it("refuses a target that is a link", async () => {
    const real = join(dir, "real");
    await mkdir(real);
    const link = join(dir, "link");
    await symlink(real, link);
    await expect(extractPackage(good, link, { trust })).rejects.toSatisfy((e) =>
      isCustodyError(e, "ERR_TARGET_NOT_EMPTY"),
    );
    expect(await readdir(real)).toEqual([]);
  });

  it("writes nothing when verification fails", async () => {
    const file = await tampered("extract-bad", (files) =>
      files.set("data/Services/list.txt", Buffer.from("evil\n")),
    );
    const target = join(dir, "never");
    await expect(extractPackage(file, target, { trust })).rejects.toSatisfy((e) =>
      isCustodyError(e, "ERR_DIGEST_MISMATCH"),
    );
    await expect(readdir(target)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
