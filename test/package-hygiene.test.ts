import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// What every package's package.json promises a user: each dependency is used, nothing under internal/
// is public, and a ./conformance subpath (which imports vitest) says so with an optional peer.
const root = join(import.meta.dirname, "..", "packages");

interface Manifest {
  name: string;
  exports: Record<string, { source: string }>;
  dependencies?: Record<string, string>;
  /** The CLI's: packages its bundle leaves to Node's resolution (scripts/bundle-cli.mjs). */
  bundleExternal?: string[];
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const packages = readdirSync(root).map((dir) => ({
  dir: join(root, dir),
  manifest: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as Manifest,
}));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"));
}

describe.each(packages)("$manifest.name", ({ dir, manifest }) => {
  it("imports every dependency it declares", () => {
    const text = sources(join(dir, "src")).join("\n");
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      if (manifest.bundleExternal?.includes(dependency)) continue;
      const imported = new RegExp(`from "${dependency}(/[^"]*)?"|import\\("${dependency}(/[^"]*)?"\\)`);
      expect(imported.test(text), `${dependency} is declared but never imported`).toBe(true);
    }
  });

  it("declares every package its bundle leaves to Node's resolution", () => {
    for (const external of manifest.bundleExternal ?? []) {
      expect(manifest.dependencies?.[external], `${external} is external to the bundle`).toBeDefined();
    }
  });

  it("exports nothing from internal/", () => {
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      expect(target.source, subpath).not.toContain("/internal/");
      const entry = readFileSync(join(dir, target.source), "utf8");
      expect(entry, `${subpath} re-exports from internal/`).not.toMatch(/^export[^;]*from "\.\/internal\//m);
    }
  });

  it("declares vitest as an optional peer when it has a ./conformance subpath", () => {
    if (manifest.exports["./conformance"] === undefined) return;
    expect(manifest.peerDependencies?.vitest).toBeDefined();
    expect(manifest.peerDependenciesMeta?.vitest?.optional).toBe(true);
  });
});
