import * as archive from "@custody/archive";
import { expect, it } from "vitest";

it("exports exactly the public surface", () => {
  expect(Object.keys(archive).sort()).toEqual([
    "BAGIT_TXT",
    "SUMMARY_COLUMNS",
    "TAG_FILES",
    "collectionSummaryRowSchema",
    "createPackageWriter",
    "decodeManifestPath",
    "encodeManifestPath",
    "extractPackage",
    "formatCollectionSummary",
    "hasZipMagic",
    "openPackageReader",
    "packageDirectory",
    "packageVerification",
    "startPackageVerification",
    "verifyPackage",
  ]);
});

it("recognizes a package by its ZIP magic, not by its name", async () => {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(join(tmpdir(), "custody-magic-"));
  await writeFile(join(dir, "a.bin"), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0]));
  await writeFile(join(dir, "b.zip"), "not a zip");
  expect(await archive.hasZipMagic(join(dir, "a.bin"))).toBe(true);
  expect(await archive.hasZipMagic(join(dir, "b.zip"))).toBe(false);
  expect(await archive.hasZipMagic(join(dir, "missing"))).toBe(false);
  await rm(dir, { recursive: true });
});

it("encodes manifest paths as RFC 8493 asks (CR, LF and % only) and back", () => {
  const path = "data/100% done\r\nnext.txt";
  expect(archive.encodeManifestPath(path)).toBe("data/100%25 done%0D%0Anext.txt");
  expect(archive.decodeManifestPath(archive.encodeManifestPath(path))).toBe(path);
});

it("writes the collection summary as CSV that spreadsheets will not evaluate", () => {
  const csv = archive.formatCollectionSummary([
    {
      dataPoint: "Processes",
      source: '=cmd|"/c calc"',
      status: "failed",
      errorCode: "ERR_COLLECT_FAILED",
      startedAt: "2026-01-02T03:04:05.000Z",
      durationMs: 5,
      files: 0,
      bytes: 0,
    },
  ]);
  expect(csv).toBe(
    `${archive.SUMMARY_COLUMNS.join(",")}\r\nProcesses,"'=cmd|""/c calc""",failed,ERR_COLLECT_FAILED,2026-01-02T03:04:05.000Z,5,0,0,,,\r\n`,
  );
});

it("gives one { ok, problems } shape for a verifier's report and for a verification recorded at ingest", () => {
  const problem = { code: "ERR_DIGEST_MISMATCH" as const, path: "data/a.txt", message: "changed" };
  expect(archive.packageVerification({ ok: false, problems: [problem] })).toEqual({
    ok: false,
    problems: [problem],
  });
  expect(
    archive.packageVerification({
      verified: false,
      problems: [problem, { code: "ERR_FROM_A_NEWER_VERSION", message: "?" }],
    }),
  ).toEqual({ ok: false, problems: [problem, { code: "ERR_PACKAGE_INVALID", message: "?" }] });
  expect(archive.packageVerification({ verified: true, problems: [] })).toEqual({ ok: true, problems: [] });
});
