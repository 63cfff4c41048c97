import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashTree, type TreeEntry } from "@custody/hash";
import { afterAll, describe, expect, it } from "vitest";

// packages/hash/README.md: hashTree follows the root itself if that is a symlink, nothing below it.
let base = "";
afterAll(async () => {
  if (base !== "") await rm(base, { recursive: true, force: true });
});

describe("hashTree on a symlinked root", () => {
  it("follows the root link and reports the links below it without following them", async () => {
    base = await mkdtemp(join(tmpdir(), "custody-tree-root-"));
    const real = join(base, "real");
    const elsewhere = join(base, "elsewhere");
    await mkdir(real);
    await mkdir(elsewhere);
    await writeFile(join(real, "a.txt"), "evidence\n");
    await writeFile(join(elsewhere, "secret.txt"), "not below the root\n");
    await symlink(elsewhere, join(real, "inner-link"));
    await symlink(real, join(base, "root-link"));

    const entries: TreeEntry[] = [];
    for await (const entry of hashTree(join(base, "root-link"))) entries.push(entry);
    expect(entries.map((e) => [e.kind, e.path])).toEqual([
      ["file", "a.txt"],
      ["symlink", "inner-link"],
    ]);
    const file = entries[0];
    expect(file?.kind === "file" ? file.digests.sha256 : undefined).toBe(
      createHash("sha256").update("evidence\n").digest("hex"),
    );
    expect(entries[1]).toMatchObject({ kind: "symlink", target: elsewhere });
  });
});
