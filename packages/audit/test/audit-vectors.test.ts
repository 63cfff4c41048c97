import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyConsistency, verifyInclusion } from "@custody/hash";
import { describe, expect, it } from "vitest";

// The RFC 9162 conformance vectors shared by the project (transparency-dev/merkle testdata).
const ROOT = fileURLToPath(new URL("../../../../shared/vectors/rfc9162-merkle/", import.meta.url));

function vectors(kind: "inclusion" | "consistency"): { name: string; data: Record<string, unknown> }[] {
  const out: { name: string; data: Record<string, unknown> }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".json")) {
        out.push({ name: path.slice(ROOT.length), data: JSON.parse(readFileSync(path, "utf8")) });
      }
    }
  };
  walk(join(ROOT, kind));
  return out;
}

const b64 = (value: unknown): Buffer => Buffer.from(String(value ?? ""), "base64");
const list = (value: unknown): Buffer[] => ((value as string[] | null) ?? []).map(b64);

/** Runs `check`; true when it accepted. Only ERR_PROOF_INVALID counts as a rejection. */
function accepted(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (error) {
    expect(error).toMatchObject({ code: "ERR_PROOF_INVALID" });
    return false;
  }
}

describe("the verifiers the audit bundles use pass the RFC 9162 vectors", () => {
  const inclusion = vectors("inclusion");
  const consistency = vectors("consistency");

  it("finds the vectors", () => {
    expect(inclusion.length).toBeGreaterThan(50);
    expect(consistency.length).toBeGreaterThan(50);
  });

  it.each(inclusion)("inclusion $name", ({ data }) => {
    const ok = accepted(() =>
      verifyInclusion({
        leafIndex: Number(data.leafIdx),
        treeSize: Number(data.treeSize),
        leafHash: b64(data.leafHash),
        proof: list(data.proof),
        root: b64(data.root),
      }),
    );
    expect(ok).toBe(!data.wantErr);
  });

  it.each(consistency)("consistency $name", ({ data }) => {
    const ok = accepted(() =>
      verifyConsistency({
        size1: Number(data.size1),
        size2: Number(data.size2),
        root1: b64(data.root1),
        root2: b64(data.root2),
        proof: list(data.proof),
      }),
    );
    expect(ok).toBe(!data.wantErr);
  });
});
