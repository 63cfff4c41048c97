import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createPackageWriter } from "@custody/archive";
import { isCustodyError } from "@custody/core";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { swapInEntry } from "../../archive/test/swap.js";

// A package's large entry is checked against its manifest from the bytes the store reads to hash the
// staged copy (one read for both): a package whose entry bytes were swapped is still refused.

const work = mkdtempSync(join(tmpdir(), "custody-ingest-one-read-"));
const dir = join(work, "vault");
const payload = randomBytes(3 * 1024 * 1024 + 11);
let vault: Vault;
let alice: AuthenticatedPrincipal;
let good: string;

async function auditLines(): Promise<{ action: string; outcome: string; target: string }[]> {
  const text = await readFile(join(dir, "audit", "audit.log"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
  good = join(work, "memory.zip");
  await writeMemoryPackage(good, "memory", "R1", payload);
});

/** A package of one entry, Memory/image.bin, signed by a collector certificate for `caseId`. */
async function writeMemoryPackage(file: string, name: string, caseId: string, bytes: Buffer): Promise<void> {
  await vault.withCollector(alice, { caseId, target: `package:${name}` }, async (signer) => {
    const writer = createPackageWriter(file, {
      name,
      device: { id: "laptop-3" },
      collector: { operator: "alice", tool: "t", toolVersion: "1", host: "h" },
      signer,
    });
    await writer.addStream("Memory/image.bin", Readable.from([bytes]));
    await writer.finalize();
  });
}

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("ingest of a package in one read", () => {
  it("refuses a package whose entry bytes were swapped (same length, CRC-32 made to match), storing nothing", async () => {
    const swapped = swapInEntry(readFileSync(good), payload, { fixCrc: true });
    const file = join(work, "swapped.zip");
    writeFileSync(file, swapped);
    const id = createHash("sha256").update(swapped).digest("hex");
    const error = await vault.ingest(alice, file, { caseId: "R1" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCustodyError(error) && error.code).toBe("ERR_PACKAGE_INVALID");
    expect(JSON.stringify(isCustodyError(error) && error.details)).toContain("data/Memory/image.bin");
    expect(await vault.list(alice, { caseId: "R1" })).toEqual([]);
    const records = (await auditLines()).filter((r) => r.target === `item:R1/${id}`);
    expect(records.map((r) => `${r.action} ${r.outcome}`)).toEqual([
      "evidence.ingest allow",
      "evidence.ingest error",
    ]);

    // kept only when asked for, recorded as unverified with the entry's digest problem
    const kept = await vault.ingest(alice, file, { caseId: "R1", allowUnverified: true });
    expect(kept.id).toBe(id);
    expect(kept.package?.verified).toBe(false);
    expect(kept.package?.problems).toContainEqual(
      expect.objectContaining({ code: "ERR_DIGEST_MISMATCH", path: "data/Memory/image.bin" }),
    );
  });

  it("refuses swapped bytes whose CRC-32 was left as it was", async () => {
    const file = join(work, "swapped-crc.zip");
    writeFileSync(file, swapInEntry(readFileSync(good), payload, { fixCrc: false }));
    const error = await vault.ingest(alice, file, { caseId: "R2" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCustodyError(error) && error.code).toBe("ERR_PACKAGE_INVALID");
    expect(await vault.list(alice, { caseId: "R2" })).toEqual([]);
  });

  it("stores the package as written, verified, under the sha256 of the whole file", async () => {
    const item = await vault.ingest(alice, good, { caseId: "R3" });
    expect(item.package).toMatchObject({ verified: true, deviceId: "laptop-3", problems: [] });
    expect(item.id).toBe(createHash("sha256").update(readFileSync(good)).digest("hex"));
  });

  it("checks a large package's entry from the copy the store reads into its hashing ring: swapped bytes are refused, nothing stored", async () => {
    // Above the size from which the fs store reads its copy into a worker's shared ring (32 MiB).
    const big = randomBytes(40 * 1024 * 1024);
    const file = join(work, "big.zip");
    await writeMemoryPackage(file, "big", "R4", big);
    for (const fixCrc of [true, false]) {
      const swapped = join(work, `big-swapped-${fixCrc}.zip`);
      writeFileSync(swapped, swapInEntry(readFileSync(file), big, { fixCrc }));
      const error = await vault.ingest(alice, swapped, { caseId: "R4" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCustodyError(error) && error.code).toBe("ERR_PACKAGE_INVALID");
      expect(JSON.stringify(isCustodyError(error) && error.details)).toContain("data/Memory/image.bin");
      expect(await vault.list(alice, { caseId: "R4" })).toEqual([]);
    }
    const item = await vault.ingest(alice, file, { caseId: "R4" });
    expect(item.package).toMatchObject({ verified: true, problems: [] });
    expect(item.id).toBe(createHash("sha256").update(readFileSync(file)).digest("hex"));
  });
});
