import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { isCustodyError } from "@custody/core";
import { parseManifest } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPackageWriter, verifyPackage } from "../src/index.js";
import { type Bag, pack, recomputeUnsigned, resign, unpack, writeGoodPackage } from "./attacker.js";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";
import { unicodePathField } from "./hostile-zip.js";

let dir: string;
let pki: TestPki;
let good: string;
let trust: { trustAnchors: string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-names-"));
  pki = await createTestPki();
  trust = { trustAnchors: [pki.caPem] };
  good = join(dir, "good.zip");
  await writeGoodPackage(good, pki.signer);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const refusedWith = (code: string) => (error: unknown) => isCustodyError(error, code as never);
const LIST = "PKG-7/data/Services/list.txt";

describe("a Unicode Path field (0x7075) must repeat the raw name", () => {
  const withField = async (label: string, where: "extra" | "localExtra", field: Buffer) =>
    pack(await unpack(good), dir, label, (entries) => {
      const entry = entries.find((e) => e.name === LIST);
      if (entry !== undefined) entry[where] = field;
    });

  it("refuses one in the central directory that names another file", async () => {
    const file = await withField(
      "upath-central",
      "extra",
      unicodePathField(LIST, "PKG-7/data/Services/x.txt"),
    );
    await expect(verifyPackage(file, { trust })).rejects.toSatisfy(refusedWith("ERR_UNSAFE_PATH"));
  });

  it("refuses one in a local header that names another file", async () => {
    const field = unicodePathField(LIST, "PKG-7/data/Services/x.txt");
    const file = await withField("upath-local", "localExtra", field);
    await expect(verifyPackage(file, { trust })).rejects.toSatisfy(refusedWith("ERR_UNSAFE_PATH"));
  });

  it("refuses a stale one (its CRC-32 is another name's), which some tools still honour", async () => {
    const field = unicodePathField(LIST, "PKG-7/data/Services/x.txt", "PKG-7/data/other");
    const file = await withField("upath-stale", "extra", field);
    await expect(verifyPackage(file, { trust })).rejects.toSatisfy(refusedWith("ERR_UNSAFE_PATH"));
  });

  it("accepts one that repeats the raw name, as Info-ZIP writes it", async () => {
    const file = await withField("upath-same", "extra", unicodePathField(LIST, LIST));
    expect((await verifyPackage(file, { trust })).problems).toEqual([]);
  });
});

const MISLEADING = [
  "Services/list.txt.",
  "Services/list.txt ",
  "Services/list.txt:hidden",
  "Services/CON",
  "Services/aux.txt",
  "Services/lpt1.log",
  "Services/invoice\u202Etxt.exe",
  "Services/li\u200Bst.txt",
  "Services/\uFEFFlist.txt",
  "Services/x\u2066y.txt",
];

/** The holder of the collector's key signs a package whose file is renamed to `path` (under data/). */
async function forged(label: string, edit: (bag: Bag) => Promise<void>) {
  const bag = await unpack(good);
  await edit(bag);
  recomputeUnsigned(bag);
  return { bag, file: await pack(bag, dir, label) };
}

const rename = (to: string) => async (bag: Bag) => {
  bag.files.set(`data/${to}`, bag.files.get("data/Services/list.txt") as Buffer);
  bag.files.delete("data/Services/list.txt");
  await resign(bag, pki.signer, (manifest) => {
    for (const item of manifest.items) if (item.path === "data/Services/list.txt") item.path = `data/${to}`;
  });
};

describe("names that Windows or macOS store or show as another", () => {
  it.each(MISLEADING)("the writer refuses %j", async (path) => {
    const writer = createPackageWriter(join(dir, "never.zip"), {
      name: "PKG-7",
      device,
      collector,
      signer: pki.signer,
    });
    await expect(writer.addStream(path, Readable.from(["x"]))).rejects.toSatisfy(
      refusedWith("ERR_UNSAFE_PATH"),
    );
    await writer.abort();
  });

  it.each(MISLEADING)(
    "a signed package holding %j is refused by the reader and the manifest",
    async (path) => {
      const { bag, file } = await forged(`name-${MISLEADING.indexOf(path)}`, rename(path));
      await expect(verifyPackage(file, { trust })).rejects.toSatisfy(refusedWith("ERR_UNSAFE_PATH"));
      expect(() => parseManifest(bag.files.get("custody-manifest.json") as Buffer)).toThrow(
        expect.objectContaining({ code: "ERR_UNSAFE_PATH" }),
      );
    },
  );
});

describe("names that differ only by case or Unicode normalization collide", () => {
  const twoWays: [string, string][] = [
    ["Services/a.txt", "services/b.txt"],
    ["Services/report.txt", "Services/REPORT.txt"],
    ["Services/caf\u00e9.txt", "Services/cafe\u0301.txt"],
    ["Services/caf\u00e9/a.txt", "Services/cafe\u0301/b.txt"],
  ];

  it.each(twoWays)("the writer refuses %j after %j before reading it", async (first, second) => {
    const writer = createPackageWriter(join(dir, "never.zip"), {
      name: "PKG-7",
      device,
      collector,
      signer: pki.signer,
    });
    await writer.addStream(first, Readable.from(["x"]));
    // A source that fails when read: the refusal must come before anything is read or written.
    const unread = Readable.from(
      (async function* () {
        yield* [];
        throw new Error("the source was read");
      })(),
    );
    await expect(writer.addStream(second, unread)).rejects.toSatisfy(refusedWith("ERR_DUPLICATE_PATH"));
    await writer.abort();
  });

  it.each(twoWays)("a signed package holding %j and %j is refused", async (first, second) => {
    const { bag, file } = await forged(`two-${twoWays.findIndex(([a]) => a === first)}`, async (bag) => {
      const body = bag.files.get("data/Services/list.txt") as Buffer;
      bag.files.set(`data/${first}`, body);
      bag.files.set(`data/${second}`, body);
      await resign(bag, pki.signer, (manifest) => {
        const item = manifest.items.find((i) => i.path === "data/Services/list.txt");
        manifest.items.push(
          { ...item, path: `data/${first}` } as never,
          { ...item, path: `data/${second}` } as never,
        );
      });
    });
    await expect(verifyPackage(file, { trust })).rejects.toSatisfy(refusedWith("ERR_DUPLICATE_PATH"));
    expect(() => parseManifest(bag.files.get("custody-manifest.json") as Buffer)).toThrow(
      expect.objectContaining({ code: "ERR_DUPLICATE_PATH" }),
    );
  });
});
