import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// packages/core/README.md: `@custody/core/errors` is the error module alone, for packages that must not
// load zod. A fresh node loads the built subpath and reports every module it resolved.
const ERRORS = fileURLToPath(new URL("../dist/errors.js", import.meta.url));
const PROBE = `
import { registerHooks } from "node:module";
const resolved = [];
registerHooks({ resolve(specifier, context, next) { resolved.push(specifier); return next(specifier, context); } });
const errors = await import(process.argv[1]);
console.log(JSON.stringify({ resolved, exports: Object.keys(errors).sort() }));
`;

describe("@custody/core/errors", () => {
  it("loads the error module alone: no zod, no other module", () => {
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", PROBE, ERRORS], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const { resolved, exports } = JSON.parse(run.stdout) as { resolved: string[]; exports: string[] };
    expect(exports).toContain("CustodyError");
    expect(exports).toContain("toCustodyError");
    expect(resolved.filter((specifier) => specifier !== ERRORS && !specifier.endsWith("/errors.js"))).toEqual(
      [],
    );
  });
});
