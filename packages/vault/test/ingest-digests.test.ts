import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createPackageWriter } from "@custody/archive";
import { verifyCustodyReport } from "@custody/audit";
import { isCustodyError } from "@custody/core";
import {
  type AuthenticatedPrincipal,
  renderCustodyReportHtml,
  resolveIngestHashes,
  Vault,
} from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The item's digest is its sha256 (its id); sha1, md5 and sha512 only when asked for, from the same read.

const work = mkdtempSync(join(tmpdir(), "custody-ingest-digests-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;

const digestOf = (algorithm: string, bytes: Buffer) => createHash(algorithm).update(bytes).digest("hex");

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCustodyError(error) ? error.code : error;
}

async function auditLines(): Promise<{ action: string; outcome: string; target: string }[]> {
  const text = await readFile(join(dir, "audit", "audit.log"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

function writeFile(name: string, bytes: Buffer): string {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("ingest digests", () => {
  it("records sha256 only by default, for a file and for a verified package, and check passes", async () => {
    const bytes = Buffer.from("only the sha256 by default\n");
    const item = await vault.ingest(alice, writeFile("plain.txt", bytes), { caseId: "D1" });
    expect(item.digests).toEqual({ sha256: digestOf("sha256", bytes) });
    expect(item.id).toBe(digestOf("sha256", bytes));

    const pkgFile = join(work, "collected.zip");
    await vault.withCollector(alice, { caseId: "D1", target: "package:collected" }, async (signer) => {
      const writer = createPackageWriter(pkgFile, {
        name: "collected",
        device: { id: "laptop-9" },
        collector: { operator: "alice", tool: "t", toolVersion: "1", host: "h" },
        signer,
      });
      await writer.addStream("Processes/list.csv", Readable.from([Buffer.from("pid\n1\n")]));
      await writer.finalize();
    });
    const pkg = await vault.ingest(alice, pkgFile, { caseId: "D1" });
    expect(pkg.package).toMatchObject({ verified: true, deviceId: "laptop-9" });
    expect(pkg.digests).toEqual({ sha256: digestOf("sha256", readFileSync(pkgFile)) });

    const results = await vault.check(alice);
    expect(results.length).toBeGreaterThanOrEqual(2);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it("adds the digests asked for, computed from the bytes stored, and the report shows them", async () => {
    const bytes = Buffer.from("with sha1 and md5\n".repeat(1000));
    const item = await vault.ingest(alice, writeFile("asked.txt", bytes), {
      caseId: "D2",
      hashes: ["sha1", "md5", "sha256", "md5"],
    });
    expect(item.digests).toEqual({
      sha256: digestOf("sha256", bytes),
      sha1: digestOf("sha1", bytes),
      md5: digestOf("md5", bytes),
    });
    const sha512 = await vault.ingest(alice, writeFile("sha512.txt", bytes), {
      caseId: "D3",
      hashes: ["sha512"],
    });
    expect(sha512.digests).toEqual({ sha256: digestOf("sha256", bytes), sha512: digestOf("sha512", bytes) });

    const report = await vault.report(alice, { id: item.id, caseId: "D2" });
    expect(report.report.item.record.digests.md5).toBe(digestOf("md5", bytes));
    expect(verifyCustodyReport(report, { trustAnchors: vault.trustAnchors }).events).toBe(
      report.report.events.length,
    );
    const html = renderCustodyReportHtml(report);
    expect(html).toContain(`<th>SHA-1</th><td>${digestOf("sha1", bytes)}</td>`);
    expect(html).toContain(`<th>MD5</th><td>${digestOf("md5", bytes)}</td>`);
    expect(html).not.toContain("SHA-512");
  });

  it("a report of an item without sha1/md5 has no empty rows for them", async () => {
    const bytes = Buffer.from("no extra digests\n");
    const item = await vault.ingest(alice, writeFile("bare.txt", bytes), { caseId: "D4" });
    const report = await vault.report(alice, { id: item.id, caseId: "D4" });
    expect(Object.keys(report.report.item.record.digests)).toEqual(["sha256"]);
    expect(verifyCustodyReport(report, { trustAnchors: vault.trustAnchors }).events).toBe(
      report.report.events.length,
    );
    const html = renderCustodyReportHtml(report);
    expect(html).toContain(item.id);
    expect(html).not.toMatch(/SHA-1|MD5|SHA-512/);
  });

  it("a streamed ingest (a server's upload) computes sha256 only by default, and the others on request", async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const plain = await vault.ingestStream(alice, Readable.from([bytes]), {
      caseId: "S1",
      name: "streamed.bin",
      expectedSize: bytes.length,
    });
    expect(plain.digests).toEqual({ sha256: digestOf("sha256", bytes) });
    const asked = await vault.ingestStream(alice, Readable.from([bytes]), {
      caseId: "S2",
      name: "streamed.bin",
      expectedSize: bytes.length,
      hashes: ["md5", "sha1"],
    });
    expect(asked.digests).toEqual({
      sha256: digestOf("sha256", bytes),
      sha1: digestOf("sha1", bytes),
      md5: digestOf("md5", bytes),
    });
  });

  it("refuses an unknown digest name with ERR_UNSUPPORTED_ALGORITHM before anything is stored", async () => {
    const file = writeFile("refused.txt", Buffer.from("never stored\n"));
    const hostile: unknown[] = [
      ["crc32"],
      ["SHA1"],
      ["sha-1"],
      [""],
      ["md5", "../../etc/passwd"],
      [42],
      [null],
      "sha1",
      { 0: "sha1", length: 1 },
      Array.from({ length: 17 }, () => "md5"),
      ["a".repeat(100_000)],
    ];
    for (const hashes of hostile) {
      const options = { caseId: "BAD", hashes } as unknown as Parameters<Vault["ingest"]>[2];
      expect(await codeOf(vault.ingest(alice, file, options))).toBe("ERR_UNSUPPORTED_ALGORITHM");
      expect(
        await codeOf(
          vault.ingestStream(alice, Readable.from([Buffer.from("x")]), {
            ...options,
            name: "x",
          }),
        ),
      ).toBe("ERR_UNSUPPORTED_ALGORITHM");
    }
    expect(await vault.list(alice, { caseId: "BAD" })).toEqual([]);
    expect(
      (await auditLines()).some((r) => r.action === "evidence.ingested" && r.target.startsWith("item:BAD/")),
    ).toBe(false);
  });

  it("resolveIngestHashes: none by default, sha256 implied, duplicates dropped, a long name cut in the message", () => {
    expect(resolveIngestHashes(undefined)).toEqual([]);
    expect(resolveIngestHashes([])).toEqual([]);
    expect(resolveIngestHashes(["sha256"])).toEqual([]);
    expect(resolveIngestHashes(["md5", "sha1", "md5"])).toEqual(["md5", "sha1"]);
    try {
      resolveIngestHashes(["x".repeat(10_000)]);
      expect.unreachable();
    } catch (error) {
      expect(isCustodyError(error) && error.code).toBe("ERR_UNSUPPORTED_ALGORITHM");
      expect((error as Error).message.length).toBeLessThan(200);
    }
  });
});
