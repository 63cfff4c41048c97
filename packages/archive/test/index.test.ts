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
    "openPackageReader",
    "packageDirectory",
    "verifyPackage",
  ]);
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
    `${archive.SUMMARY_COLUMNS.join(",")}\r\nProcesses,"'=cmd|""/c calc""",failed,ERR_COLLECT_FAILED,2026-01-02T03:04:05.000Z,5,0,0\r\n`,
  );
});
