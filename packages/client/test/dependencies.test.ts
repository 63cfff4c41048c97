import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const FORBIDDEN = [/^@custody\/(server|vault|azure|store|audit)$/, /^@azure\//, /^fastify$/, /^@fastify\//];

/** Every package the client loads at run time: its dependencies, theirs, and so on. */
function runtimeTree(packageDir: string, seen = new Map<string, string>()): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
    if (seen.has(name)) continue;
    const dir = installedAt(packageDir, name);
    seen.set(name, dir);
    runtimeTree(dir, seen);
  }
  return seen;
}

/** Where Node would find `name` from `from`: the nearest node_modules that holds it (links followed). */
function installedAt(from: string, name: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`${name} is not installed for ${from}`);
  }
}

describe("@custody/client's dependency tree", () => {
  it("holds no server code, no vault internals and no Azure SDK", () => {
    const names = [...runtimeTree(join(import.meta.dirname, "..")).keys()];
    expect(names).toContain("@custody/core");
    for (const name of names) for (const rule of FORBIDDEN) expect(name).not.toMatch(rule);
  });
});
