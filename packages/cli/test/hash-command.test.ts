import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runCli } from "@custody/cli";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-cli-hash-"));
  await mkdir(join(work, "data/sub"), { recursive: true });
  await writeFile(join(work, "data/plain.txt"), "plain");
  await writeFile(join(work, "data/sub/deep.bin"), Buffer.alloc(5000, 7));
  await writeFile(join(work, "data/back\\slash"), "backslash");
  await writeFile(join(work, "data/new\nline"), "newline");
  await writeFile(join(work, "data/sp ace"), "");
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function run(args: string[], stdin: Readable = Readable.from([])) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: "", err: "" };
  stdout.on("data", (d: Buffer) => (chunks.out += d));
  stderr.on("data", (d: Buffer) => (chunks.err += d));
  const code = await runCli(args, { stdout, stderr, stdin, env: {}, cwd: work });
  return { code, ...chunks };
}

const sh = (script: string, input?: string) =>
  spawnSync("sh", ["-c", script], { cwd: work, encoding: "utf8", ...(input === undefined ? {} : { input }) });

describe("custody hash", () => {
  it("prints exactly what sha256sum prints, escapes included, and sha256sum -c accepts it", async () => {
    const ours = await run(["hash", "-r", "data"]);
    expect(ours.code).toBe(0);
    const theirs = sh("find data -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum");
    expect(ours.out).toBe(theirs.stdout);
    expect(ours.out).toContain("\\");
    const check = sh("sha256sum -c --strict", ours.out);
    expect(check.status).toBe(0);
    expect(
      check.stdout
        .split("\n")
        .filter(Boolean)
        .every((l) => l.endsWith(": OK")),
    ).toBe(true);
  });

  it("hashes files and standard input with any single algorithm like its *sum tool", async () => {
    for (const [alg, tool] of [
      ["md5", "md5sum"],
      ["sha1", "sha1sum"],
      ["sha512", "sha512sum"],
    ] as const) {
      const ours = await run(["hash", "-a", alg, "data/plain.txt", "data/sub/deep.bin"]);
      expect(ours.out).toBe(sh(`${tool} data/plain.txt data/sub/deep.bin`).stdout);
    }
    const fromStdin = await run(["hash", "-"], Readable.from([Buffer.from("plain")]));
    expect(fromStdin.out).toBe(sh("sha256sum -", "plain").stdout);
    const implicit = await run(["hash"], Readable.from([Buffer.from("plain")]));
    expect(implicit.out).toBe(fromStdin.out);
  });

  it("with several algorithms prints BSD-style lines that cksum -c checks", async () => {
    const ours = await run(["hash", "-a", "sha256", "-a", "md5", "-r", "data"]);
    expect(ours.code).toBe(0);
    expect(ours.out).toContain("MD5 (data/plain.txt) = ");
    const check = sh("cksum -c", ours.out);
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it("--json gives every requested digest and the size", async () => {
    const ours = await run(["hash", "--json", "-a", "sha256,sha1,md5,sha512", "data/plain.txt"]);
    const doc = JSON.parse(ours.out);
    expect(doc.ok).toBe(true);
    expect(doc.algorithms).toEqual(["sha256", "sha1", "md5", "sha512"]);
    expect(doc.entries[0].size).toBe(5);
    expect(Object.keys(doc.entries[0].digests)).toEqual(["sha256", "sha1", "md5", "sha512"]);
    expect(doc.entries[0].digests.md5).toBe(sh("md5sum data/plain.txt").stdout.split(" ")[0]);
  });

  it("reports symlinks, special files and missing inputs on stderr, hashes the rest, exits 1", async () => {
    const dir = join(work, "mixed");
    await mkdir(dir);
    await writeFile(join(dir, "a"), "a");
    await symlink("/etc/passwd", join(dir, "b-link"));
    spawnSync("mkfifo", [join(dir, "c-fifo")]);
    await writeFile(join(dir, "d"), "d");
    const ours = await run(["hash", "-r", "mixed", "missing"]);
    expect(ours.code).toBe(1);
    expect(ours.out).toBe(sh("sha256sum mixed/a mixed/d").stdout);
    expect(ours.err).toContain("mixed/b-link: symlink to /etc/passwd, not followed");
    expect(ours.err).toContain("mixed/c-fifo: fifo");
    expect(ours.err).toContain("missing: ERR_NOT_FOUND");
    const json = JSON.parse((await run(["hash", "-r", "--json", "mixed"])).out);
    expect(json.ok).toBe(false);
    expect(json.entries.map((e: { kind: string }) => e.kind)).toEqual(["file", "symlink", "other", "file"]);
  });

  it("is a usage error (exit 2) for unknown algorithms and for -r with stdin; a folder without -r is a problem", async () => {
    const bad = await run(["hash", "-a", "sha3", "data/plain.txt"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("unknown algorithm");
    expect(bad.out).toBe("");
    expect((await run(["hash", "-r", "-"])).code).toBe(2);
    const folder = await run(["hash", "data"]);
    expect(folder.code).toBe(1);
    expect(folder.err).toContain("is a folder");
    expect((await run(["hash", "-a", "SHA-256", "data/plain.txt"])).out).toBe(
      sh("sha256sum data/plain.txt").stdout,
    );
  });
});
