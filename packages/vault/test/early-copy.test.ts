import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsEvidenceStore } from "@custody/store";
import { startIngestEarlyCopy } from "@custody/vault/early-copy";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// startIngestEarlyCopy reads vault.json only to find an fs store: whatever else it finds there, it
// starts nothing and throws nothing, and never blocks on what is not a regular file.
describe("startIngestEarlyCopy", () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "custody-vault-early-"));
    file = join(dir, "evidence.bin");
    await writeFile(file, Buffer.alloc(4096, 7));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const vaultJson = (store: unknown) => writeFile(join(dir, "vault.json"), JSON.stringify({ store }));

  it("copies into the fs store that vault.json names, relative to the vault", async () => {
    await FsEvidenceStore.open(join(dir, "evidence-store"));
    await vaultJson({ kind: "fs", dir: "evidence-store" });
    const copy = startIngestEarlyCopy(dir, file);
    expect(copy?.path.startsWith(join(dir, "evidence-store", "tmp"))).toBe(true);
    copy?.discard();
  });

  it("starts nothing for an Azure store, a missing, broken, oversized or non-file vault.json", async () => {
    await FsEvidenceStore.open(join(dir, "store"));
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined(); // no vault.json
    await vaultJson({ kind: "azure", container: "evidence", dir: "store" });
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined();
    await vaultJson({ kind: "fs", dir: 42 });
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined();
    await writeFile(join(dir, "vault.json"), "{ not json");
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined();
    await writeFile(
      join(dir, "vault.json"),
      `{"store":{"kind":"fs","dir":"store"},"pad":"${"x".repeat(70_000)}"}`,
    );
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined();
    await rm(join(dir, "vault.json"));
    // a FIFO nobody writes to: a read of it would wait forever
    expect(spawnSync("mkfifo", [join(dir, "vault.json")]).status).toBe(0);
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined();
    await rm(join(dir, "vault.json"));
    await mkdir(join(dir, "vault.json"));
    expect(startIngestEarlyCopy(dir, file)).toBeUndefined();
    expect(await readdir(join(dir, "store", "tmp"))).toEqual([]);
  });
});
