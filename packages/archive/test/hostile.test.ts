import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractPackage, openPackageReader, verifyPackage } from "../src/index.js";
import { createTestPki, type TestPki } from "./fixtures.js";
import {
  type BuildOptions,
  buildZip,
  ntfsTimesField,
  type RawEntry,
  unicodePathField,
} from "./hostile-zip.js";

let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-hostile-"));
  pki = await createTestPki();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (s: string) => Buffer.from(s);
const ok = (name: string, content = "fine\n"): RawEntry => ({ name: `pkg/${name}`, content: text(content) });
const zeros = Buffer.alloc(8 * 1024 * 1024);
const noise = randomBytes(1536 * 1024);
const innerLocal = buildZip([ok("inner.txt")]).subarray(0, 30 + "pkg/inner.txt".length + 5);

interface Case {
  name: string;
  code: string;
  entries: RawEntry[];
  options?: BuildOptions;
  limits?: Record<string, number>;
  /** Bytes cut from the end of the generated file. */
  cut?: number;
}

/** The corpus: each archive is generated here, so it documents itself and needs no binary in git. */
const corpus: Case[] = [
  {
    name: "absolute path",
    code: "ERR_UNSAFE_PATH",
    entries: [ok("a.txt"), { name: "/etc/passwd", content: text("x") }],
  },
  {
    name: "parent traversal",
    code: "ERR_UNSAFE_PATH",
    entries: [{ name: "pkg/../../evil.sh", content: text("x") }],
  },
  { name: "backslash", code: "ERR_UNSAFE_PATH", entries: [{ name: "pkg\\..\\evil.sh", content: text("x") }] },
  {
    name: "drive letter",
    code: "ERR_UNSAFE_PATH",
    entries: [{ name: "C:/Windows/evil.dll", content: text("x") }],
  },
  {
    name: "NUL in a name",
    code: "ERR_UNSAFE_PATH",
    entries: [{ name: "pkg/a\u0000.txt", content: text("x") }],
  },
  {
    name: "non-UTF-8 name without the flag",
    code: "ERR_UNSAFE_PATH",
    entries: [{ name: Buffer.from([0x70, 0x2f, 0xe9]), content: text("x") }],
  },
  {
    name: "symlink entry",
    code: "ERR_ARCHIVE_SYMLINK",
    entries: [{ name: "pkg/link", content: text("/etc/shadow"), externalAttributes: (0o120777 << 16) >>> 0 }],
  },
  {
    name: "device entry",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [{ name: "pkg/dev", externalAttributes: (0o020644 << 16) >>> 0 }],
  },
  { name: "exact duplicate", code: "ERR_DUPLICATE_PATH", entries: [ok("a.txt"), ok("a.txt", "other\n")] },
  {
    name: "case-folded duplicate",
    code: "ERR_DUPLICATE_PATH",
    entries: [ok("Report.txt"), ok("report.TXT")],
  },
  {
    name: "Unicode-folded duplicate",
    code: "ERR_DUPLICATE_PATH",
    entries: [ok("caf\u00e9.txt"), ok("cafe\u0301.txt")],
  },
  { name: "file and folder clash", code: "ERR_DUPLICATE_PATH", entries: [ok("a"), ok("a/b.txt")] },
  {
    name: "encrypted entry",
    code: "ERR_ARCHIVE_ENCRYPTED",
    entries: [{ ...ok("secret.txt"), flags: 0x801 }],
  },
  {
    name: "unsupported method (bzip2)",
    code: "ERR_ARCHIVE_UNSUPPORTED_METHOD",
    entries: [{ ...ok("a.txt"), method: 12 }],
  },
  {
    name: "stored size lies",
    code: "ERR_ARCHIVE_SIZE_MISMATCH",
    entries: [{ name: "pkg/a.txt", content: text("0123456789"), size: 5 }],
  },
  {
    name: "data exceeds the declared size (deflate)",
    code: "ERR_ARCHIVE_SIZE_MISMATCH",
    entries: [{ name: "pkg/bomb.bin", content: zeros, method: 8, size: 1000 }],
  },
  {
    name: "compression ratio past the limit",
    code: "ERR_ARCHIVE_LIMIT",
    entries: [{ name: "pkg/bomb.bin", content: zeros, method: 8 }],
    limits: { maxCompressionRatio: 100 },
  },
  {
    name: "total past the limit",
    code: "ERR_ARCHIVE_LIMIT",
    entries: [ok("a.txt", "x".repeat(600)), ok("b.txt", "y".repeat(600))],
    limits: { maxTotalBytes: 1000 },
  },
  {
    name: "too many entries",
    code: "ERR_ARCHIVE_LIMIT",
    entries: [ok("a.txt"), ok("b.txt"), ok("c.txt")],
    limits: { maxEntries: 2 },
  },
  {
    name: "declared size past the default entry limit",
    code: "ERR_ARCHIVE_LIMIT",
    entries: [{ name: "pkg/huge.bin", stored: deflateBlock(), method: 8, size: 0xfffffffe }],
    limits: { maxEntryBytes: 2 ** 31 },
  },
  {
    name: "overlapping entries (a local header inside another entry's data)",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [
      { name: "pkg/outer.bin", content: Buffer.concat([innerLocal, text("tail")]) },
      { name: "pkg/inner.txt", content: text("fine\n"), offset: 30 + "pkg/outer.bin".length },
    ],
  },
  {
    name: "entry out of bounds",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [{ ...ok("a.txt"), offset: 10_000 }],
  },
  {
    name: "local name differs from central name",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [{ ...ok("a.txt"), localName: "pkg/b.txt" }],
  },
  {
    name: "truncated central directory",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt"), ok("b.txt")],
    options: { truncateCentralDirectory: 20 },
  },
  {
    name: "doubled central directory",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt")],
    options: { doubleCentralDirectory: true },
  },
  {
    name: "data before the archive",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt")],
    options: { prefix: text("MZ-stub".repeat(10)), offsetShift: 70 },
  },
  {
    name: "data before the archive (offsets not adjusted)",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt")],
    options: { prefix: text("#!/bin/sh\n") },
  },
  {
    name: "data after the archive",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt")],
    options: { suffix: text("appended") },
  },
  {
    name: "not a ZIP at all",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [],
    options: { prefix: text("just text, no archive here") },
    cut: 22,
  },
  {
    name: "truncated file (end record cut)",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt"), ok("b.txt")],
    cut: 30,
  },
  { name: "empty file", code: "ERR_ARCHIVE_MALFORMED", entries: [], cut: 22 },
  {
    name: "bytes hidden after a small entry's deflate stream",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [
      {
        name: "pkg/a.txt",
        content: text("fine\n"),
        method: 8,
        stored: Buffer.concat([deflateRawSync(text("fine\n")), text("HIDDEN")]),
      },
    ],
  },
  {
    name: "megabytes hidden after a deflate stream (past the reader's chunk)",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [
      {
        name: "pkg/big.bin",
        content: noise,
        method: 8,
        stored: Buffer.concat([deflateRawSync(noise), randomBytes(2 * 1024 * 1024)]),
      },
    ],
  },
  {
    name: "bytes hidden after a large entry's deflate stream",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [
      {
        name: "pkg/big.bin",
        content: noise,
        method: 8,
        stored: Buffer.concat([deflateRawSync(noise), text("HIDDEN")]),
      },
    ],
  },
  {
    name: "a central record hidden past the declared count",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt"), { ...ok("b.txt"), offset: 0, localName: "pkg/a.txt" }],
    options: { declaredCount: 1 },
  },
  {
    name: "a data descriptor whose CRC differs from the central record",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [{ ...ok("a.txt"), descriptor: { crc: 0x12345678 } }],
  },
  {
    name: "a data descriptor whose sizes differ from the central record",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [{ ...ok("a.txt", "0123456789"), descriptor: { size: 4, compressedSize: 4 } }],
  },
  {
    name: "a ZIP64 local field that states another size than the central record",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [{ ...ok("a.txt", "0123456789"), zip64: { local: { size: 3, compressedSize: 10 } } }],
  },
  {
    name: "a ZIP64 central field that claims more data than the entry has",
    code: "ERR_ARCHIVE_SIZE_MISMATCH",
    entries: [
      { ...ok("a.txt", "0123456789"), zip64: { central: { size: 10, compressedSize: 5000 } } },
      ok("b.txt"),
    ],
  },
  {
    name: "a Unicode Path field (0x7075) that names another file",
    code: "ERR_UNSAFE_PATH",
    entries: [{ ...ok("a.txt"), extra: unicodePathField("pkg/a.txt", "pkg/evil.txt") }],
  },
  {
    name: "a Windows reparse point (NTFS host, FILE_ATTRIBUTE_REPARSE_POINT)",
    code: "ERR_ARCHIVE_SYMLINK",
    entries: [{ ...ok("a.txt"), madeBy: (10 << 8) | 20, externalAttributes: 0x420, extra: ntfsTimesField() }],
  },
  {
    name: "strong encryption (flag bit 6)",
    code: "ERR_ARCHIVE_ENCRYPTED",
    entries: [{ ...ok("a.txt"), flags: 0x800 | 0x41 }],
  },
  {
    name: "deflate64 (method 9)",
    code: "ERR_ARCHIVE_UNSUPPORTED_METHOD",
    entries: [{ ...ok("a.txt"), method: 9, stored: text("xx") }],
  },
  {
    name: "corrupt deflate data",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [
      { name: "pkg/a.txt", content: text("hello"), method: 8, stored: Buffer.from([0xff, 0xff, 0xff]) },
    ],
  },
  { name: "a device name (CON.txt)", code: "ERR_UNSAFE_PATH", entries: [ok("CON.txt")] },
  { name: "a segment ending in a dot", code: "ERR_UNSAFE_PATH", entries: [ok("notes.")] },
  { name: "an NTFS alternate data stream", code: "ERR_UNSAFE_PATH", entries: [ok("a.txt:hidden")] },
  { name: "a right-to-left override", code: "ERR_UNSAFE_PATH", entries: [ok("invoice\u202Etxt.exe")] },
  {
    name: "a padded central directory",
    code: "ERR_ARCHIVE_MALFORMED",
    entries: [ok("a.txt")],
    options: { padCentralDirectory: 46 },
  },
  {
    name: "a folder entry outside data/",
    code: "ERR_PACKAGE_INVALID",
    entries: [ok("a.txt"), { name: "pkg/extra/", externalAttributes: (0o040755 << 16) >>> 0 }],
  },
  { name: "an archive with no entries", code: "ERR_PACKAGE_INVALID", entries: [] },
  {
    name: "two top-level folders",
    code: "ERR_PACKAGE_INVALID",
    entries: [ok("a.txt"), { name: "other/b.txt", content: text("x") }],
  },
];

/** One stored deflate block header with no data: a tiny entry that declares a huge size. */
function deflateBlock(): Buffer {
  return Buffer.from([0x03, 0x00]);
}

describe("hostile archive corpus", () => {
  for (const [index, item] of corpus.entries()) {
    it(`refuses ${item.name} with ${item.code}, writing nothing`, async () => {
      const file = join(dir, `hostile-${index}.zip`);
      const bytes = buildZip(item.entries, item.options);
      await writeFile(file, bytes.subarray(0, bytes.length - (item.cut ?? 0)));
      const limits = item.limits ?? {};
      const verify = verifyPackage(file, { trust: { trustAnchors: [pki.caPem] }, limits });
      await expect(verify).rejects.toSatisfy((error) => isCustodyError(error) && error.code === item.code);
      const target = join(dir, `out-${index}`);
      await mkdir(target);
      const extract = extractPackage(file, target, { trust: { trustAnchors: [pki.caPem] }, limits });
      await expect(extract).rejects.toSatisfy((error) => isCustodyError(error) && error.code === item.code);
      expect(await readdir(target)).toEqual([]);
    });
  }

  it("reads a plain well-formed archive of the same builder (the corpus is not refused for the builder's sake)", async () => {
    const file = join(dir, "plain.zip");
    await writeFile(
      file,
      buildZip([ok("a.txt"), { ...ok("b.txt", "deflated text ".repeat(50)), method: 8 }]),
    );
    const reader = await openPackageReader(file);
    expect(reader.name).toBe("pkg");
    expect(reader.entries.map((entry) => entry.path)).toEqual(["a.txt", "b.txt"]);
    await reader.close();
  });

  it("reads the builder's honest data descriptors, ZIP64 fields and NTFS times (each hostile case differs from these by its lie alone)", async () => {
    const file = join(dir, "plain-extras.zip");
    await writeFile(
      file,
      buildZip([
        { ...ok("a.txt"), descriptor: {} },
        { ...ok("b.txt", "0123456789"), zip64: { local: { size: 10, compressedSize: 10 } } },
        { ...ok("c.txt", "0123456789"), zip64: { central: { size: 10, compressedSize: 10 } } },
        { ...ok("d.txt"), madeBy: (10 << 8) | 20, externalAttributes: 0x20, extra: ntfsTimesField() },
        { ...ok("e.txt"), extra: unicodePathField("pkg/e.txt", "pkg/e.txt") },
      ]),
    );
    const reader = await openPackageReader(file);
    expect(reader.entries.map((entry) => entry.path)).toEqual(["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]);
    await reader.close();
  });

  it("has a case for every code in the README's table of what the reader refuses", async () => {
    const readme = await readFile(join(import.meta.dirname, "..", "README.md"), "utf8");
    const after = readme.slice(readme.indexOf("### What the reader refuses")).split("\n").slice(1);
    const rows = after.slice(after.findIndex((line) => line.startsWith("|")));
    const table = rows
      .slice(
        0,
        rows.findIndex((line) => !line.startsWith("|")),
      )
      .join("\n");
    const claimed = new Set(table.match(/`ERR_[A-Z_]+`/g)?.map((code) => code.slice(1, -1)));
    expect(claimed.size).toBeGreaterThan(5);
    const covered = new Set(corpus.map((item) => item.code));
    expect([...claimed].filter((code) => !covered.has(code))).toEqual([]);
  });
});
