import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { isCustodyError } from "@custody/core";
import { verifyConsistency, verifyInclusion } from "@custody/hash";
import { describe, expect, it } from "vitest";

// The public transparency-dev vectors, kept in the repository (fixtures/rfc9162-merkle/README.md).
const vectorDir = fileURLToPath(new URL("./fixtures/rfc9162-merkle/", import.meta.url));

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".json"))
    .map((name) => join(dir, name))
    .sort();
}

const b64 = (value: string | null | undefined): Buffer => Buffer.from(value ?? "", "base64");
const load = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;
const inclusionFiles = jsonFiles(join(vectorDir, "inclusion"));
const consistencyFiles = jsonFiles(join(vectorDir, "consistency"));
const name = (file: string) => relative(vectorDir, file);

function outcome(run: () => void): "ok" | "rejected" {
  try {
    run();
    return "ok";
  } catch (error) {
    if (!isCustodyError(error, "ERR_PROOF_INVALID")) throw error;
    return "rejected";
  }
}

describe("RFC 9162 vectors from transparency-dev/merkle", () => {
  it("finds all 196 vectors, with both outcomes represented", () => {
    expect(inclusionFiles.length + consistencyFiles.length).toBe(196);
    const wantErr = [...inclusionFiles, ...consistencyFiles].map(
      (f) => load<{ wantErr: boolean }>(f).wantErr,
    );
    expect(wantErr.filter(Boolean).length).toBeGreaterThan(100);
    expect(wantErr.filter((w) => !w).length).toBeGreaterThan(10);
  });

  it.each(inclusionFiles.map((f) => [name(f), f]))("inclusion %s", (_name, file) => {
    const v = load<InclusionVector>(file);
    const result = outcome(() =>
      verifyInclusion({
        leafIndex: v.leafIdx,
        treeSize: v.treeSize,
        leafHash: b64(v.leafHash),
        proof: (v.proof ?? []).map(b64),
        root: b64(v.root),
      }),
    );
    expect(result).toBe(v.wantErr ? "rejected" : "ok");
  });

  it.each(consistencyFiles.map((f) => [name(f), f]))("consistency %s", (_name, file) => {
    const v = load<ConsistencyVector>(file);
    const result = outcome(() =>
      verifyConsistency({
        size1: v.size1,
        size2: v.size2,
        root1: b64(v.root1),
        root2: b64(v.root2),
        proof: (v.proof ?? []).map(b64),
      }),
    );
    expect(result).toBe(v.wantErr ? "rejected" : "ok");
  });
});
