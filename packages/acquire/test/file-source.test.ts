import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { open, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquire } from "@custody/acquire";
import { type EvidenceStore, FsEvidenceStore } from "@custody/store";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectCode,
  makeVault,
  readBack,
  storedObjectCount,
  systemDigests,
  type TestVault,
} from "./helpers.js";

let t: TestVault;

beforeAll(async () => {
  t = await makeVault("custody-acquire-file-");
});

afterAll(async () => {
  await t?.cleanup();
});

/** An image of `mib` MiB with random data at the start and end and a hole of zeros in between. */
async function sparseImage(name: string, mib: number): Promise<string> {
  const path = join(t.work, name);
  const handle = await open(path, "wx");
  await handle.write(randomBytes(1024 * 1024), 0, 1024 * 1024, 0);
  await handle.write(randomBytes(12_345), 0, 12_345, mib * 1024 * 1024 - 12_345);
  await handle.close();
  return path;
}

describe("acquire an image file", () => {
  it("stores the raw bytes with sha256, sha1 and md5 from one read, and the record a court asks for", async () => {
    const image = await sparseImage("holes.img", 9);
    const allocated = Number(execFileSync("stat", ["-c", "%b", image], { encoding: "utf8" }).trim()) * 512;
    expect(allocated).toBeLessThan(9 * 1024 * 1024); // the hole really is a hole
    const item = await acquire(t.vault, t.alice, image, { caseId: "IR-18", chunkBytes: 1024 * 1024 });
    const expected = systemDigests(image);
    expect(item.id).toBe(expected.sha256);
    expect(item.digests).toEqual(expected);
    expect(item.size).toBe(9 * 1024 * 1024);
    expect(item.acquisition).toMatchObject({ how: "acquire", by: "alice", source: image });
    expect(item.image).toMatchObject({
      source: { kind: "file", path: image, size: 9 * 1024 * 1024, sectorSize: 512 },
      readErrors: [],
      readErrorBytes: 0,
    });
    expect(Date.parse(item.image?.endedAt ?? "")).toBeGreaterThanOrEqual(
      Date.parse(item.image?.startedAt ?? ""),
    );
    expect(await readBack(t, item.id)).toEqual({ sha256: expected.sha256, size: 9 * 1024 * 1024 });
    expect(await t.vault.check(t.alice, item.id)).toEqual([{ id: item.id, caseId: "IR-18", ok: true }]);
    // The record is the one the log bound: the custody report carries it.
    const report = await t.vault.report(t.alice, { id: item.id, caseId: "IR-18" });
    expect(JSON.stringify(report)).toContain('"how":"acquire"');
  });

  it("refuses the same image twice in one case, storing nothing more", async () => {
    const image = join(t.work, "twice.img");
    await writeFile(image, randomBytes(300_000));
    await acquire(t.vault, t.alice, image, { caseId: "IR-18" });
    const before = storedObjectCount(t);
    await expectCode(acquire(t.vault, t.alice, image, { caseId: "IR-18" }), "ERR_ALREADY_EXISTS");
    expect(storedObjectCount(t)).toBe(before);
  });

  it("refuses a symlink, naming its target, and a FIFO without blocking on it", async () => {
    const image = join(t.work, "real.img");
    await writeFile(image, randomBytes(1000));
    const link = join(t.work, "link.img");
    await symlink(image, link);
    await expectCode(acquire(t.vault, t.alice, link, { caseId: "IR-18" }), "ERR_UNSAFE_PATH");
    const fifo = join(t.work, "pipe");
    execFileSync("mkfifo", [fifo]);
    await expectCode(acquire(t.vault, t.alice, fifo, { caseId: "IR-18" }), "ERR_SOURCE_UNSUPPORTED");
    await expectCode(acquire(t.vault, t.alice, t.work, { caseId: "IR-18" }), "ERR_SOURCE_UNSUPPORTED");
    await expectCode(acquire(t.vault, t.alice, "/dev/null", { caseId: "IR-18" }), "ERR_SOURCE_UNSUPPORTED");
  });

  it("refuses a source that shrinks or grows during acquisition, storing nothing", async () => {
    const before = storedObjectCount(t);
    const shrinking = join(t.work, "shrinking.img");
    await writeFile(shrinking, randomBytes(8 * 1024 * 1024));
    let cut = false;
    const shrink = acquire(t.vault, t.alice, shrinking, {
      caseId: "IR-18",
      chunkBytes: 1024 * 1024,
      onProgress: (bytes) => {
        if (bytes >= 2 * 1024 * 1024 && !cut) {
          cut = true;
          execFileSync("truncate", ["-s", "3M", shrinking]);
        }
      },
    });
    await expectCode(shrink, "ERR_SOURCE_CHANGED");

    const growing = join(t.work, "growing.img");
    await writeFile(growing, randomBytes(4 * 1024 * 1024));
    let grown = false;
    const grow = acquire(t.vault, t.alice, growing, {
      caseId: "IR-18",
      chunkBytes: 1024 * 1024,
      onProgress: (bytes) => {
        if (bytes >= 1024 * 1024 && !grown) {
          grown = true;
          execFileSync("truncate", ["-s", "5M", growing]);
        }
      },
    });
    await expectCode(grow, "ERR_SOURCE_CHANGED");
    expect(storedObjectCount(t)).toBe(before);
    const ingested = (await t.vault.list(t.alice, { caseId: "IR-18" })).map((item) => item.name);
    expect(ingested).not.toContain("shrinking.img");
    expect(ingested).not.toContain("growing.img");
  });

  it("with --verify-source, reads the source again and records that it matched", async () => {
    const image = join(t.work, "verified.img");
    await writeFile(image, randomBytes(3 * 1024 * 1024 + 17));
    const item = await acquire(t.vault, t.alice, image, { caseId: "IR-18", verifySource: true });
    expect(item.image?.verification).toMatchObject({ sha256: item.id, matched: true });
  });

  it("refuses, with a clear error and nothing stored, a vault whose store cannot take a streamed item", async () => {
    const plain = await FsEvidenceStore.open(join(t.work, "plain-store"));
    // A real store without createAddressed (as the Azure Blob store is today).
    const store: EvidenceStore = {
      capabilities: { ...plain.capabilities, backend: "blob-like" },
      create: (key, body, options) => plain.create(key, body, options),
      read: (key, options) => plain.read(key, options),
      readObject: (key, options) => plain.readObject(key, options),
      head: (key) => plain.head(key),
      list: (options) => plain.list(options),
      listKeys: (options) => plain.listKeys(options),
      setLegalHold: (key, on) => plain.setLegalHold(key, on),
      extendRetention: (key, until) => plain.extendRetention(key, until),
      delete: (key) => plain.delete(key),
    };
    const { vault, identityPem } = await Vault.init(join(t.work, "vault-without-addressed"), {
      custodian: "alice",
      keyBits: 2048,
      openStore: store,
    });
    try {
      const image = join(t.work, "any.img");
      await writeFile(image, randomBytes(4096));
      const alice = vault.authenticate(identityPem);
      await expectCode(acquire(vault, alice, image, { caseId: "IR-18" }), "ERR_INVALID_ARGUMENT");
      const ingests = (await vault.showAudit(alice)).filter((record) => record.action === "evidence.ingest");
      expect(ingests.map((record) => record.outcome)).toEqual(["allow", "error"]);
      const stored: string[] = [];
      for await (const object of plain.list()) stored.push(object.key);
      expect(stored).toEqual([]);
    } finally {
      await vault.close();
    }
  });
});
