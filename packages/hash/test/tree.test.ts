import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isCustodyError } from "@custody/core";
import { hashTree, type TreeEntry } from "@custody/hash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unprivilegedUser } from "../../../test/support/unprivileged.js";
import { openssl, tempDir } from "./helpers.js";

let root: string;
let outside: string;
let cleanups: (() => Promise<void>)[] = [];

async function collect(dir: string, options: Parameters<typeof hashTree>[1] = {}): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  for await (const entry of hashTree(dir, options)) entries.push(entry);
  return entries;
}

beforeAll(async () => {
  const a = await tempDir("tree");
  const b = await tempDir("outside");
  cleanups = [a.cleanup, b.cleanup];
  root = a.dir;
  outside = b.dir;
  await writeFile(join(outside, "secret.txt"), "outside the tree");
  await mkdir(join(root, "a/b"), { recursive: true });
  await mkdir(join(root, "empty"));
  await writeFile(join(root, "a.txt"), "a dot txt");
  await writeFile(join(root, "a/b/c.txt"), "deep");
  await writeFile(join(root, "a/z"), "");
  await writeFile(join(root, "B"), "upper case sorts first");
  await writeFile(join(root, "é"), "non-ascii name");
  await writeFile(join(root, "new\nline"), "a newline in the name");
  await symlink(outside, join(root, "link-to-dir"));
  await symlink(join(outside, "secret.txt"), join(root, "link-to-file"));
  await symlink("does-not-exist", join(root, "dangling"));
  expect(spawnSync("mkfifo", [join(root, "fifo")]).status).toBe(0);
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe("hashTree", () => {
  it("lists every entry in sorted relative-path order with digests like openssl", async () => {
    const entries = await collect(root);
    expect(entries.map((e) => e.path)).toEqual([
      "B",
      "a.txt",
      "a/b/c.txt",
      "a/z",
      "dangling",
      "fifo",
      "link-to-dir",
      "link-to-file",
      "new\nline",
      "é",
    ]);
    const paths = entries.map((e) => e.path);
    expect([...paths].sort()).toEqual(paths);
    const file = entries.find((e) => e.path === "a/b/c.txt");
    expect(file).toEqual({
      kind: "file",
      path: "a/b/c.txt",
      size: 4,
      digests: { sha256: openssl("sha256", join(root, "a/b/c.txt")) },
    });
  });

  it("reports symlinks with their target and never follows them; FIFOs are reported, not opened", async () => {
    const entries = await collect(root);
    expect(entries.filter((e) => e.kind === "symlink")).toEqual([
      { kind: "symlink", path: "dangling", target: "does-not-exist" },
      { kind: "symlink", path: "link-to-dir", target: outside },
      { kind: "symlink", path: "link-to-file", target: join(outside, "secret.txt") },
    ]);
    expect(entries.some((e) => e.path.includes("secret"))).toBe(false);
    expect(entries.find((e) => e.path === "fifo")).toEqual({ kind: "other", path: "fifo", type: "fifo" });
  });

  it("computes every requested algorithm", async () => {
    const entries = await collect(root, { algorithms: ["md5", "sha1"] });
    const file = entries.find((e) => e.path === "a.txt");
    expect(file?.kind === "file" && file.digests).toEqual({
      md5: openssl("md5", join(root, "a.txt")),
      sha1: openssl("sha1", join(root, "a.txt")),
    });
  });

  it("reports a name that is not UTF-8 as an error entry instead of a wrong path", async () => {
    const { dir, cleanup } = await tempDir("badname");
    try {
      await writeFile(Buffer.from(`${dir}/bad-\xff-name`, "latin1"), "x");
      await writeFile(join(dir, "good"), "y");
      const entries = await collect(dir);
      expect(entries.map((e) => e.kind)).toEqual(["error", "file"]);
      const bad = entries[0];
      expect(bad?.kind === "error" && bad.error.code).toBe("ERR_UNSAFE_PATH");
    } finally {
      await cleanup();
    }
  });

  it("gives the same entries from the worker pool as on the calling thread, in order", async () => {
    const { dir, cleanup } = await tempDir("many");
    try {
      for (let i = 0; i < 150; i++) {
        await mkdir(join(dir, `d${i % 7}`), { recursive: true });
        await writeFile(join(dir, `d${i % 7}`, `f${i}`), `file ${i} `.repeat(i));
      }
      const wide = await collect(dir, { algorithms: ["sha256", "md5"], concurrency: 64 });
      const narrow = await collect(dir, { algorithms: ["sha256", "md5"], concurrency: 1 });
      expect(wide).toEqual(narrow);
      expect(wide.length).toBe(150);
      const listed = spawnSync("sh", ["-c", "find . -type f | sed 's|^\\./||' | LC_ALL=C sort"], {
        cwd: dir,
        encoding: "utf8",
      });
      expect(wide.map((e) => e.path)).toEqual(listed.stdout.trim().split("\n"));
      const sample = wide[99] as TreeEntry & { kind: "file" };
      expect(sample.digests.md5).toBe(openssl("md5", join(dir, sample.path)));
      let progress = { files: 0, bytes: 0 };
      await collect(dir, { onProgress: (p) => (progress = p) });
      expect(progress.files).toBe(150);
    } finally {
      await cleanup();
    }
  });

  it("reports unreadable files with their error and hashes the rest (checked as an unprivileged user)", async () => {
    const { dir, cleanup } = await tempDir("unreadable");
    try {
      await chmod(dir, 0o755);
      await writeFile(join(dir, "a-readable"), "fine");
      await writeFile(join(dir, "b-locked"), "secret", { mode: 0o000 });
      await mkdir(join(dir, "c-locked-dir"), { mode: 0o000 });
      await writeFile(join(dir, "d-readable"), "also fine");
      const lines = await runAsNobody(dir);
      expect(lines.map((e) => [e.path, e.kind, e.kind === "error" ? e.error.code : ""])).toEqual([
        ["a-readable", "file", ""],
        ["b-locked", "error", "ERR_PERMISSION"],
        ["c-locked-dir", "error", "ERR_PERMISSION"],
        ["d-readable", "file", ""],
      ]);
    } finally {
      await chmod(join(dir, "c-locked-dir"), 0o755);
      await cleanup();
    }
  });

  it("throws coded errors for a bad root and bad options, and stops on abort", async () => {
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "resolved",
        (e: unknown) => (isCustodyError(e) ? e.code : e),
      );
    expect(await codeOf(collect(join(root, "missing")))).toBe("ERR_NOT_FOUND");
    expect(await codeOf(collect(join(root, "a.txt")))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(collect(root, { concurrency: 0 }))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(collect(`${root}\0`))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(collect(""))).toBe("ERR_INVALID_ARGUMENT");
    expect(await codeOf(collect(root, { algorithms: ["sha3" as "sha256"] }))).toBe(
      "ERR_UNSUPPORTED_ALGORITHM",
    );
    expect(await codeOf(collect(root, { abortSignal: AbortSignal.abort() }))).toBe("ERR_ABORTED");
    const controller = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const entry of hashTree(root, { abortSignal: controller.signal, concurrency: 1 })) {
        seen.push(entry.path);
        if (seen.length === 2) controller.abort();
      }
    })();
    expect(await codeOf(run)).toBe("ERR_ABORTED");
    expect(seen.length).toBe(2);
  });
});

// Root reads any file whatever its mode, so the permission check runs in a child process that becomes
// nobody after loading its code (it never has to reach the checkout, which may sit in a private 0700
// folder); an unprivileged test runner needs no switch.
async function runAsNobody(dir: string): Promise<(TreeEntry & { error: { code: string } })[]> {
  const child = fileURLToPath(new URL("./fixtures/tree-child.mjs", import.meta.url));
  const proc = spawn(process.execPath, [child, dir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...unprivilegedUser()?.env },
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d));
  proc.stderr.on("data", (d: Buffer) => (err += d));
  const code = await new Promise((resolve, reject) => {
    proc.on("error", reject);
    proc.on("close", resolve);
  });
  if (code !== 0) throw new Error(`child failed (${code}): ${err}`);
  return out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}
