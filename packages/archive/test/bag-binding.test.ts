import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPackage } from "../src/index.js";
import { type Bag, pack, recomputeUnsigned, setBagInfo, unpack, writeGoodPackage } from "./attacker.js";
import { createTestPki, type TestPki } from "./fixtures.js";

// An attacker without the collector's key edits a signed package and recomputes everything unsigned
// (both BagIt manifests, Payload-Oxum): only the binding to the signed manifest can notice.

let dir: string;
let pki: TestPki;
let good: string;
let trust: { trustAnchors: string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-binding-"));
  pki = await createTestPki();
  trust = { trustAnchors: [pki.caPem] };
  good = join(dir, "good.zip");
  await writeGoodPackage(good, pki.signer);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const codes = (report: { problems: { code: string; path?: string }[] }) =>
  report.problems.map((problem) => `${problem.code} ${problem.path ?? ""}`);

/** Edits a fresh copy of the good bag, recomputes everything unsigned, re-zips, verifies. */
async function attack(label: string, edit: (bag: Bag) => void) {
  const bag = await unpack(good);
  edit(bag);
  recomputeUnsigned(bag);
  const file = await pack(bag, dir, label);
  return { file, report: await verifyPackage(file, { trust }) };
}

describe("the attacker's tools", () => {
  it("re-pack an untouched bag faithfully: it still verifies", async () => {
    const { report } = await attack("untouched", () => {});
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe("files the signed manifest does not list are refused", () => {
  it("an extra file at the bag root, listed in the recomputed tag manifest", async () => {
    const { report } = await attack("extra-root", (bag) =>
      bag.files.set("notes.txt", Buffer.from("seized by Mallory\n")),
    );
    expect(report.ok).toBe(false);
    expect(codes(report)).toContain("ERR_UNLISTED_ENTRY notes.txt");
  });

  it("a fetch.txt (a BagIt validator would download what nobody signed)", async () => {
    const { report } = await attack("fetch", (bag) =>
      bag.files.set("fetch.txt", Buffer.from("https://evil.example/x 4 data/Services/more.txt\n")),
    );
    expect(codes(report)).toContain("ERR_BAGIT_INVALID fetch.txt");
  });

  it.each(["manifest-md5.txt", "manifest-sha512.txt", "tagmanifest-sha512.txt"])(
    "another manifest with wrong digests (%s)",
    async (name) => {
      const { report } = await attack(name, (bag) =>
        bag.files.set(name, Buffer.from(`${"0".repeat(32)}  data/Services/list.txt\n`)),
      );
      expect(codes(report)).toContain(`ERR_BAGIT_INVALID ${name}`);
    },
  );

  it("a Data/ folder, which lands in data/ on a case-insensitive disk", async () => {
    const bag = await unpack(good);
    bag.files.set("Data/planted.txt", Buffer.from("planted\n"));
    recomputeUnsigned(bag);
    const file = await pack(bag, dir, "Data-folder");
    await expect(verifyPackage(file, { trust })).rejects.toSatisfy((e) =>
      isCustodyError(e, "ERR_DUPLICATE_PATH"),
    );
  });

  it("a folder outside data/ (even an empty one)", async () => {
    const bag = await unpack(good);
    const file = await pack(bag, dir, "extra-folder", (entries) =>
      entries.push({ name: "PKG-7/extra/", externalAttributes: (0o040755 << 16) >>> 0 }),
    );
    await expect(verifyPackage(file, { trust })).rejects.toSatisfy((e) =>
      isCustodyError(e, "ERR_PACKAGE_INVALID"),
    );
  });
});

describe("bag-info.txt states only what the signed manifest states", () => {
  it.each<[string, string | undefined]>([
    ["Custody-Case", "CASE-9"],
    ["Custody-Device", "device-0001"],
    ["External-Identifier", "PKG-8"],
    ["Bagging-Date", "2020-01-01"],
    ["Source-Organization", "Federal Bureau of Examples"],
    ["Bag-Software-Agent", "bagit.py v1.8.1"],
    ["Custody-Signature", "other.p7s"],
    ["Contact-Name", "Mallory"],
    ["Custody-Case", undefined],
  ])("%s set to %j is refused", async (label, value) => {
    const { report } = await attack(`bag-info-${label}-${value}`, (bag) => setBagInfo(bag, label, value));
    expect(report.ok).toBe(false);
    expect(codes(report)).toContain("ERR_PACKAGE_INVALID bag-info.txt");
  });

  it("a field stated twice (a reader that takes the last one sees another case)", async () => {
    const { report } = await attack("bag-info-twice", (bag) => {
      const text = (bag.files.get("bag-info.txt") as Buffer).toString();
      bag.files.set("bag-info.txt", Buffer.from(`${text}Custody-Case: CASE-7\n`));
    });
    expect(codes(report)).toContain("ERR_BAGIT_INVALID bag-info.txt");
  });

  it("an edited bagit.txt is refused", async () => {
    const { report } = await attack("bagit-txt", (bag) =>
      bag.files.set("bagit.txt", Buffer.from("BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n")),
    );
    expect(codes(report)).toEqual(["ERR_BAGIT_INVALID bagit.txt"]);
  });
});

const cli = join(import.meta.dirname, "../../cli/dist/bin.js");

describe.skipIf(!existsSync(cli))("custody verify (the CLI, built)", () => {
  it("reports an edited Custody-Case as invalid (exit 1) with its code", async () => {
    const { file } = await attack("cli-case", (bag) => setBagInfo(bag, "Custody-Case", "CASE-9"));
    const ca = join(dir, "ca.pem");
    await writeFile(ca, pki.caPem);
    const run = spawnSync(process.execPath, [cli, "verify", file, "--ca", ca], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("ERR_PACKAGE_INVALID bag-info.txt");
  });

  it("reports a Data/ folder as invalid (exit 1) with its code", async () => {
    const bag = await unpack(good);
    bag.files.set("Data/x.txt", Buffer.from("planted\n"));
    recomputeUnsigned(bag);
    const file = await pack(bag, dir, "cli-data");
    const ca = join(dir, "ca.pem");
    await writeFile(ca, pki.caPem);
    const run = spawnSync(process.execPath, [cli, "verify", file, "--ca", ca], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("ERR_DUPLICATE_PATH");
  });
});
