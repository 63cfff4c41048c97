import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPackageWriter, verifyPackage } from "../src/index.js";
import { validateBagDirectory } from "./bagit-validator.js";
import { collector, createTestPki, device, type TestPki } from "./fixtures.js";
import { hasTool, textBlob } from "./helpers.js";

let dir: string;
let pki: TestPki;
let packageFile: string;
let extracted: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-interop-"));
  pki = await createTestPki();
  packageFile = join(dir, "CASE-7.zip");
  const writer = createPackageWriter(packageFile, {
    name: "CASE-7",
    caseId: "CASE-7",
    device,
    collector,
    signer: pki.signer,
  });
  const source = join(dir, "netstat.txt");
  await writeFile(source, textBlob(200_000));
  await Promise.all([
    writer.addFile("Network connections/netstat.txt", source, { source: "netstat -ano" }),
    writer.addStream("Processes/ps.txt", Readable.from([textBlob(3_000_000, 2)]), { source: "ps -ef" }),
    writer.addStream("Memory/dump.bin", Readable.from([randomBytes(1_500_000)])),
    writer.addStream("Users and groups/empty.txt", Readable.from([])),
    writer.addStream("Files/naïve 100% café.txt", Readable.from(["unicode and percent\n"])),
  ]);
  writer.setCollectionSummary([
    {
      dataPoint: "Processes",
      source: "ps -ef",
      status: "ok",
      startedAt: "2026-01-02T03:04:05.000Z",
      durationMs: 12,
      files: 1,
      bytes: 3_000_000,
    },
  ]);
  await writer.finalize();
  extracted = join(dir, "out");
  await mkdir(extracted);
  if (hasTool("unzip")) execFileSync("unzip", ["-q", packageFile, "-d", extracted]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!hasTool("unzip"))("packages with standard tools", () => {
  it("unzip -t accepts the package, which holds one folder named after it", async () => {
    expect(execFileSync("unzip", ["-t", packageFile]).toString()).toContain("No errors detected");
    expect(await readdir(extracted)).toEqual(["CASE-7"]);
  });

  it.skipIf(!hasTool("python3", ["--version"]))(
    "Python's zipfile (an independent reader) tests every entry's CRC",
    () => {
      const result = spawnSync("python3", ["-m", "zipfile", "-t", packageFile]);
      expect(result.stderr.toString()).toBe("");
      expect(result.stdout.toString()).toContain("Done testing");
      expect(result.status).toBe(0);
    },
  );

  it.skipIf(!hasTool("jar", ["--version"]))("the JDK's zip reader (jar) lists every entry", () => {
    const listed = execFileSync("jar", ["tf", packageFile]).toString().trim().split("\n");
    expect(listed).toContain("CASE-7/data/Processes/ps.txt");
    expect(listed).toContain("CASE-7/custody-manifest.json.p7s");
    expect(listed).toHaveLength(12);
  });

  it.skipIf(!hasTool("sha256sum", ["--version"]))(
    "sha256sum -c manifest-sha256.txt passes from the bag root",
    () => {
      // sha256sum cannot read RFC 8493's %25 for '%', so that one line is checked by the BagIt validator.
      const bag = join(extracted, "CASE-7");
      const lines = execFileSync("grep", ["-v", "%25", "manifest-sha256.txt"], { cwd: bag });
      const result = spawnSync("sha256sum", ["-c", "--strict", "-"], { cwd: bag, input: lines });
      expect(result.stderr.toString()).toBe("");
      expect(result.status).toBe(0);
      expect(result.stdout.toString().match(/: OK$/gm)).toHaveLength(4);
    },
  );

  it.skipIf(!hasTool("openssl", ["version"]))(
    "openssl cms -verify accepts the signed custody manifest",
    async () => {
      const bag = join(extracted, "CASE-7");
      await writeFile(join(dir, "ca.pem"), pki.caPem);
      const args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", "custody-manifest.json.p7s"];
      args.push(
        "-content",
        "custody-manifest.json",
        "-CAfile",
        join(dir, "ca.pem"),
        "-purpose",
        "any",
        "-out",
        "/dev/null",
      );
      const result = spawnSync("openssl", args, { cwd: bag });
      expect(result.stderr.toString()).toContain("Verification successful");
      expect(result.status).toBe(0);
    },
  );

  it.skipIf(!hasTool("zip", ["-v"]))(
    "the same bag zipped by Info-ZIP (folders, extra fields, data descriptors) verifies",
    async () => {
      const trust = { trustAnchors: [pki.caPem] };
      const plain = join(dir, "rezipped.zip");
      execFileSync("zip", ["-r", "-q", plain, "CASE-7"], { cwd: extracted });
      expect((await verifyPackage(plain, { trust })).problems).toEqual([]);
      // Writing to stdout makes zip use data descriptors (sizes after the data).
      const streamed = execFileSync("zip", ["-r", "-q", "-", "CASE-7"], {
        cwd: extracted,
        maxBuffer: 64 * 1024 * 1024,
      });
      await writeFile(join(dir, "streamed.zip"), streamed);
      expect((await verifyPackage(join(dir, "streamed.zip"), { trust })).problems).toEqual([]);
    },
  );

  it("the extracted folder is a valid BagIt 1.0 bag (independent validator)", async () => {
    expect(await validateBagDirectory(join(extracted, "CASE-7"))).toEqual([]);
  });

  it.skipIf(!hasTool("bagit.py", ["--version"]))(
    "bagit-python validates the bag (skipped unless bagit.py is on PATH; PyPI is unreachable here)",
    () => {
      const result = spawnSync("bagit.py", ["--validate", join(extracted, "CASE-7")]);
      expect(result.status, result.stderr.toString()).toBe(0);
    },
  );
});
