import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// docs/architecture.md and DESIGN: verification code never imports storage, and only @custody/azure
// imports the Azure SDK. Read from the sources and the manifests, the way a user installs them.
const root = join(import.meta.dirname, "..", "packages");
const packages = readdirSync(root).filter((dir) => !dir.startsWith("."));
const VERIFIERS = ["core", "hash", "manifest", "archive", "audit"];
const STORAGE = ["@custody/store", "@custody/azure", "@custody/vault"];

function manifest(dir: string): { dependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
}

/** Every module specifier a package's sources import (static, dynamic, or re-exported). */
function imported(dir: string): Set<string> {
  const specifiers = new Set<string>();
  for (const entry of readdirSync(join(root, dir, "src"), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), "utf8");
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) specifiers.add(match[1] ?? "");
  }
  return specifiers;
}

describe("the direction of the arrows", () => {
  it("keeps storage out of verification and the Azure SDK inside @custody/azure", () => {
    expect(packages).toEqual(expect.arrayContaining([...VERIFIERS, "azure", "store"]));
    for (const dir of packages) {
      const azure = [...imported(dir), ...Object.keys(manifest(dir).dependencies ?? {})].filter((s) =>
        s.startsWith("@azure/"),
      );
      if (dir !== "azure") expect(azure, `${dir} imports the Azure SDK`).toEqual([]);
    }
    expect([...imported("azure")].some((s) => s.startsWith("@azure/"))).toBe(true);
    for (const dir of VERIFIERS) {
      const uses = [...imported(dir), ...Object.keys(manifest(dir).dependencies ?? {})];
      expect(
        uses.filter((s) => STORAGE.some((storage) => s === storage || s.startsWith(`${storage}/`))),
        `${dir} reaches storage`,
      ).toEqual([]);
    }
  });
});
