import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { catalog } from "../src/commands/catalog.js";
import { commands } from "../src/commands/index.js";
import { renderCliReference } from "../src/docs.js";

it("docs/cli.md is the reference generated from the command registry (run: node scripts/cli-docs.mjs)", () => {
  const file = join(import.meta.dirname, "..", "..", "..", "docs", "cli.md");
  expect(readFileSync(file, "utf8")).toBe(renderCliReference(commands));
});

it("every command has a summary, a synopsis and a unique path", () => {
  const paths = commands.map((c) => c.path.join(" "));
  expect(new Set(paths).size).toBe(paths.length);
  for (const command of commands) {
    expect(command.summary.length, command.path.join(" ")).toBeGreaterThan(10);
  }
});

it("the lazy command catalog matches the registry and loads each command (run: node scripts/cli-catalog.mjs)", async () => {
  const described = catalog.map(({ load: _load, ...info }) => info);
  const registered = commands.map(({ run: _run, ...info }) => info);
  expect(described).toEqual(registered);
  const loaded = await Promise.all(catalog.map((entry) => entry.load()));
  for (const [i, spec] of loaded.entries()) expect(spec, spec.path.join(" ")).toBe(commands[i]);
});
