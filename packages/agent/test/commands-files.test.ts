import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type FileBody, type Row, type RunCommandOptions, runCommand } from "../src/commands/index.js";
import type { AgentPolicy } from "../src/policy-types.js";
import type { TransferBody } from "../src/schemas.js";

let root: string;
let policy: AgentPolicy;
const content = "evidence bytes\n".repeat(1000);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "agent-cmd-"));
  await mkdir(join(root, "a/b/c"), { recursive: true });
  await writeFile(join(root, "a/file.txt"), content);
  await writeFile(join(root, "a/b/c/deep.log"), "x");
  await writeFile(join(root, "secret"), "never");
  await symlink(join(root, "a/file.txt"), join(root, "a/link"));
  await symlink(root, join(root, "a/up"));
  await link(join(root, "secret"), join(root, "a/hard"));
  execFileSync("mkfifo", [join(root, "a/fifo")]);
  policy = {
    format: "custody.agent.policy/v1",
    tiers: { basic: true, advanced: true },
    paths: { deny: [join(root, "secret")] },
    maxGetfileBytes: 1024 * 1024,
  };
});
afterAll(() => rm(root, { recursive: true, force: true }));

function options(extra: Partial<RunCommandOptions> = {}): RunCommandOptions {
  return { cwd: null, signal: new AbortController().signal, policy, ...extra };
}

async function run(
  name: string,
  positional: string[],
  flags: Record<string, string | true> = {},
  extra: Partial<RunCommandOptions> = {},
) {
  const rows: Row[] = [];
  const generator = runCommand({ name, positional, flags }, options(extra));
  for (;;) {
    const next = await generator.next();
    if (next.done) return { rows, data: next.value };
    rows.push(next.value);
  }
}

async function refused(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CustodyError);
  return `${(error as CustodyError).code}${(error as CustodyError).details.reason ? `:${(error as CustodyError).details.reason}` : ""}`;
}

describe("fileinfo", () => {
  test("reports metadata and sha256/sha1/md5 from one read", async () => {
    const { data } = await run("fileinfo", [join(root, "a/file.txt")], { hash: "sha1,md5" });
    const hex = (alg: string) => createHash(alg).update(content).digest("hex");
    expect(data).toMatchObject({
      type: "file",
      size: content.length,
      sha256: hex("sha256"),
      sha1: hex("sha1"),
      md5: hex("md5"),
      changedWhileReading: false,
    });
    expect(data?.mode).toMatch(/^0[0-7]{3}$/);
    expect(typeof data?.owner).toBe("string");
  });

  test("computes only sha256 unless -hash asks for more; an unknown digest is refused", async () => {
    const { data } = await run("fileinfo", [join(root, "a/file.txt")]);
    expect(data?.sha256).toBe(createHash("sha256").update(content).digest("hex"));
    expect(data).not.toHaveProperty("sha1");
    expect(data).not.toHaveProperty("md5");
    const md5 = await run("fileinfo", [join(root, "a/file.txt")], { hash: "md5" });
    expect(Object.keys(md5.data ?? {}).filter((key) => ["sha256", "sha1", "md5"].includes(key))).toEqual([
      "sha256",
      "md5",
    ]);
    expect(await refused(run("fileinfo", [join(root, "a/file.txt")], { hash: "crc32" }))).toBe(
      "ERR_UNSUPPORTED_ALGORITHM",
    );
  });

  test("a symlink is described, not followed; a fifo is described, never opened", async () => {
    const { data } = await run("fileinfo", [join(root, "a/link")]);
    expect(data).toMatchObject({ type: "symlink", linkTarget: join(root, "a/file.txt"), targetType: "file" });
    expect(data?.sha256).toBeUndefined();
    expect((await run("fileinfo", [join(root, "a/fifo")])).data).toMatchObject({ type: "fifo" });
  });

  test("relative paths resolve against the session directory only, .. normalized", async () => {
    expect(await refused(run("fileinfo", ["file.txt"]))).toBe("ERR_UNSAFE_PATH:relative");
    const { data } = await run("fileinfo", ["b/../file.txt"], {}, { cwd: join(root, "a") });
    expect(data?.path).toBe(join(root, "a/file.txt"));
    expect(await refused(run("fileinfo", ["file.txt"], {}, { cwd: "a" }))).toBe(
      "ERR_UNSAFE_PATH:relative-cwd",
    );
  });

  test.each([
    ["a denied path", () => join(root, "secret"), "ERR_AGENT_POLICY"],
    ["a denied path through ..", () => join(root, "a/b/../../secret"), "ERR_AGENT_POLICY"],
    ["a denied path through a symlinked directory", () => join(root, "a/up/secret"), "ERR_AGENT_POLICY"],
    ["a hard link to a denied file", () => join(root, "a/hard"), "ERR_AGENT_POLICY"],
    ["process memory", () => "/proc/self/mem", "ERR_UNSAFE_PATH:memory"],
    [
      "process memory through a task",
      () => `/proc/${process.pid}/task/${process.pid}/mem`,
      "ERR_UNSAFE_PATH:memory",
    ],
    ["kernel memory", () => "/proc/kcore", "ERR_UNSAFE_PATH:memory"],
    ["a NUL byte", () => "/etc/\0passwd", "ERR_UNSAFE_PATH:nul"],
    ["a missing file", () => join(root, "nope"), "ERR_NOT_FOUND"],
  ])("%s is refused", async (_name, path, code) => {
    expect(await refused(run("fileinfo", [path()]))).toBe(code);
  });
});

describe("dir, findfile, cd", () => {
  test("dir lists without following symlinks, -recursive walks the tree", async () => {
    const { rows } = await run("dir", [join(root, "a")]);
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(["b", "fifo", "file.txt", "hard", "link", "up"]);
    expect(byName.link).toMatchObject({ type: "symlink", link: join(root, "a/file.txt") });
    expect(byName.up).toMatchObject({ type: "symlink" });
    const deep = await run("dir", [join(root, "a")], { recursive: true });
    expect(deep.rows.map((r) => r.name)).toContain("b/c/deep.log");
    expect(deep.rows.some((r) => String(r.name).startsWith("up/"))).toBe(false);
  });

  test("findfile matches a glob, bounded by -max_results", async () => {
    const { rows } = await run("findfile", ["*.log"], { root });
    expect(rows.map((r) => r.path)).toEqual([join(root, "a/b/c/deep.log")]);
    const two = await run("findfile", ["*"], { root, max_results: "2" });
    expect(two.rows).toHaveLength(2);
    expect(await refused(run("findfile", ["a/b"], { root }))).toBe("ERR_INVALID_ARGUMENT");
    expect(await refused(run("findfile", ["*"], { root, max_results: "0" }))).toBe("ERR_INVALID_ARGUMENT");
  });

  test("cd resolves to the real directory; a file or a denied path is refused", async () => {
    expect((await run("cd", ["up/a"], {}, { cwd: join(root, "a") })).data).toEqual({ cwd: join(root, "a") });
    expect(await refused(run("cd", [join(root, "a/file.txt")]))).toBe("ERR_INVALID_ARGUMENT");
    expect(await refused(run("cd", [join(root, "secret")]))).toBe("ERR_AGENT_POLICY");
  });

  test("an aborted signal stops a walk", async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await refused(run("dir", ["/usr"], { recursive: true }, { signal: controller.signal }))).toBe(
      "ERR_ABORTED",
    );
  });

  test("console commands and unknown names do not run on the device", async () => {
    expect(await refused(run("jobs", []))).toBe("ERR_UNKNOWN_COMMAND");
    expect(await refused(run("exec", []))).toBe("ERR_UNKNOWN_COMMAND");
    expect(await refused(run("dir", [], { nosuch: "1" }))).toBe("ERR_USAGE");
  });
});

describe("getfile", () => {
  const sha = createHash("sha256").update(content).digest("hex");
  const transfer = (over: Partial<TransferBody> = {}): TransferBody => ({
    id: "t1",
    path: "/v1/agent/transfers/t1",
    expectedSha256: sha,
    expectedSize: content.length,
    maxBytes: 750 * 1024 * 1024,
    ...over,
  });
  const uploadTo =
    (file: string, offset = 0) =>
    async (_t: TransferBody, body: FileBody) => {
      const out = createWriteStream(file);
      await body(offset, out);
      out.end();
      await finished(out);
    };

  test("streams the file through the uploader, hashed while read", async () => {
    const out = join(root, "uploaded");
    const { data } = await run(
      "getfile",
      [join(root, "a/file.txt")],
      {},
      { transfer: transfer(), upload: uploadTo(out) },
    );
    expect(data).toEqual({ path: join(root, "a/file.txt"), size: content.length, sha256: sha });
    expect(await readFile(out, "utf8")).toBe(content);
  });

  test("a resumed upload sends the bytes from the offset on, the whole file hashed all the same", async () => {
    const out = join(root, "resumed");
    const offset = 7;
    await run(
      "getfile",
      [join(root, "a/file.txt")],
      {},
      { transfer: transfer(), upload: uploadTo(out, offset) },
    );
    expect(await readFile(out, "utf8")).toBe(content.slice(offset));
    // the skipped bytes are hashed too: a digest that does not match the whole file still refuses
    const refusedOut = join(root, "resumed-refused");
    expect(
      await refused(
        run(
          "getfile",
          [join(root, "a/file.txt")],
          {},
          { transfer: transfer({ expectedSha256: "0".repeat(64) }), upload: uploadTo(refusedOut, offset) },
        ),
      ),
    ).toBe("ERR_FILE_CHANGED");
  });

  test.each([
    [
      "a hash that differs",
      () => transfer({ expectedSha256: "0".repeat(64) }),
      "a/file.txt",
      "ERR_FILE_CHANGED",
    ],
    ["a size that differs", () => transfer({ expectedSize: 3 }), "a/file.txt", "ERR_FILE_CHANGED"],
    ["a file over the limit", () => transfer({ maxBytes: 10 }), "a/file.txt", "ERR_SIZE_LIMIT"],
    ["a symlink", () => transfer(), "a/link", "ERR_UNSAFE_PATH:symlink"],
    ["a fifo", () => transfer(), "a/fifo", "ERR_UNSAFE_PATH:special"],
    ["a hard link to a denied file", () => transfer(), "a/hard", "ERR_AGENT_POLICY"],
  ])("%s is refused", async (_name, t, path, code) => {
    const out = join(root, `refused-${code}`);
    expect(
      await refused(run("getfile", [join(root, path)], {}, { transfer: t(), upload: uploadTo(out) })),
    ).toBe(code);
  });
});
