import type { HashEntry } from "@custody/vault";
import { describe, expect, it } from "vitest";
import { analyzeRow } from "../src/live/sessions/verdict.js";

const BAD = "a".repeat(64);
const entry: HashEntry = {
  list: "known-bad",
  sha256: BAD,
  addedBy: "alice",
  addedAt: "2026-12-06T00:00:00.000Z",
};
const lookup = (sha256: string) => (sha256 === BAD ? [entry] : []);

describe("analyze's row: the device reports facts, the vault states the verdict", () => {
  it("a device that sends its own verdict, reasons, lists or basis cannot override the vault's", () => {
    const row = analyzeRow(
      {
        path: "/tmp/x",
        sha256: BAD,
        type: "elf",
        entropy: 1,
        verdict: "clean",
        reasons: ["trust me"],
        lists: ["known-good"],
        basis: "the device's",
      },
      lookup,
    );
    expect(row.verdict).toBe("malicious");
    expect(row.reasons).not.toContain("trust me");
    expect(row.lists).toEqual(["known-bad"]);
    expect(row.basis).toMatch(/verdict the vault's/);
    // the row still shows the device's own facts first, in their order
    expect(Object.keys(row).slice(0, 6)).toEqual(["path", "verdict", "sha256", "type", "entropy", "reasons"]);
  });

  it("without a list entry or anomaly the verdict is unknown, whatever the device claims", () => {
    const row = analyzeRow(
      { path: "/tmp/y", sha256: "b".repeat(64), type: "text", verdict: "clean" },
      lookup,
    );
    expect(row.verdict).toBe("unknown");
  });
});
