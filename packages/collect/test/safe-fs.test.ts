import { execFileSync } from "node:child_process";
import { lchown, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, test } from "vitest";
import { collectFs, type ReadRefused, SafeDir } from "../src/safe-fs.js";

const linux = process.platform === "linux";
const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
let root: string;
let refusals: { source: string; refused: ReadRefused }[];
const fs = () => collectFs(root, (source, refused) => refusals.push({ source, refused }));

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "collect-safe-fs-"));
  dirs.push(root);
  refusals = [];
  await mkdir(join(root, "home/alice/.ssh"), { recursive: true });
  await writeFile(join(root, "home/alice/.ssh/authorized_keys"), "alice-key\n");
  await mkdir(join(root, "root/.ssh"), { recursive: true });
  await writeFile(join(root, "root/.ssh/authorized_keys"), "root-key\n");
});

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const text = async (opened: Awaited<ReturnType<SafeDir["openFile"]>>) => {
  if (opened.kind !== "open") return opened;
  try {
    return (await opened.handle.readFile()).toString();
  } finally {
    await opened.handle.close();
  }
};

describe.runIf(linux)("collectFs: reads that never follow a symlink below their trusted folder", () => {
  test("a symlinked middle folder is refused for open, list, stat and openDir, and each refusal recorded", async () => {
    await rm(join(root, "home/alice/.ssh"), { recursive: true });
    await symlink(join(root, "root/.ssh"), join(root, "home/alice/.ssh"));
    const scope = { scope: "/home/alice" };
    const keys = "/home/alice/.ssh/authorized_keys";
    expect(await fs().openFile(keys, scope)).toMatchObject({ kind: "refused", code: "ERR_UNSAFE_PATH" });
    expect(await fs().readText(keys, scope)).toBeUndefined();
    expect(await fs().lstat(keys, scope)).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(await fs().list("/home/alice/.ssh", scope)).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(await fs().openDir("/home/alice/.ssh", scope)).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(refusals.map((r) => r.source)).toEqual([keys, keys, keys, "/home/alice/.ssh", "/home/alice/.ssh"]);
    // Reasons name the device's paths, not the folder the tree is mounted at.
    for (const { refused } of refusals) expect(refused.reason).not.toContain(root);
  });

  test("on the way to the trusted folder, a symlink made by anyone but root is refused", async () => {
    await mkdir(join(root, "data"), { recursive: true });
    await rename(join(root, "home"), join(root, "data/home"));
    await symlink(join(root, "data/home"), join(root, "home"));
    if (isRoot) {
      // Root's own layout links (/home -> /data/home, /lib -> usr/lib) are part of the system.
      expect(await fs().readText("/home/alice/.ssh/authorized_keys")).toBe("alice-key\n");
      await lchown(join(root, "home"), 1001, 1001);
    }
    expect(await fs().openFile("/home/alice/.ssh/authorized_keys")).toMatchObject({
      kind: "refused",
      code: "ERR_UNSAFE_PATH",
    });
  });

  test("followWithin follows one last-step link inside the scope; out of scope or via a linked folder it is refused", async () => {
    await mkdir(join(root, "home/alice/dotfiles"), { recursive: true });
    await writeFile(join(root, "home/alice/dotfiles/bashrc"), "alias ll='ls -l'\n");
    await symlink("dotfiles/bashrc", join(root, "home/alice/.bashrc"));
    await symlink("/root/.ssh/authorized_keys", join(root, "home/alice/.profile"));
    await symlink(join(root, "root/.ssh"), join(root, "home/alice/linked"));
    await symlink("linked/authorized_keys", join(root, "home/alice/.zshrc"));
    const inHome = { scope: "/home/alice", followWithin: ["/home/alice"] };
    expect(await fs().readText("/home/alice/.bashrc", inHome)).toBe("alias ll='ls -l'\n");
    expect(await fs().openFile("/home/alice/.profile", inHome)).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(await fs().openFile("/home/alice/.zshrc", inHome)).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(await fs().openFile("/home/alice/.bashrc", { scope: "/home/alice" })).toMatchObject({
      code: "ERR_UNSAFE_PATH",
    });
  });

  test("a FIFO or a folder where a file is expected is refused, without hanging", async () => {
    execFileSync("mkfifo", [join(root, "home/alice/.bash_history")]);
    expect(await fs().openFile("/home/alice/.bash_history")).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(await fs().openFile("/home/alice/.ssh")).toMatchObject({ code: "ERR_UNSAFE_PATH" });
    expect(await fs().openFile("/home/alice/absent")).toEqual({ kind: "absent" });
  });

  test("race: a folder swapped for a symlink after the walk opened it is read as it was, never the link", async () => {
    const ssh = await fs().openDir("/home/alice/.ssh", { scope: "/home/alice" });
    expect(ssh).toBeInstanceOf(SafeDir);
    // The attacker swaps ~/.ssh for a link to root's folder while the collector holds it open.
    await rename(join(root, "home/alice/.ssh"), join(root, "home/alice/.ssh-old"));
    await symlink(join(root, "root/.ssh"), join(root, "home/alice/.ssh"));
    const dir = ssh as SafeDir;
    expect(await text(await dir.openFile("authorized_keys"))).toBe("alice-key\n");
    expect(await dir.list()).toEqual(["authorized_keys"]);
    await dir.close();
  });

  test("race: a folder swapped for a symlink between the check of its parent and its own open is refused", async () => {
    const home = (await fs().openDir("/home/alice", { scope: "/home/alice" })) as SafeDir;
    expect((await home.lstat(".ssh")).isDirectory()).toBe(true);
    await rename(join(root, "home/alice/.ssh"), join(root, "home/alice/.ssh-old"));
    await symlink(join(root, "root/.ssh"), join(root, "home/alice/.ssh"));
    expect(await home.openDir(".ssh")).toMatchObject({ kind: "refused", code: "ERR_UNSAFE_PATH" });
    expect(await home.openFile(".ssh")).toMatchObject({ kind: "refused", code: "ERR_UNSAFE_PATH" });
    await home.close();
  });

  test("race: a trusted folder swapped after it was checked is refused, not read", async () => {
    const reads = fs();
    expect(await reads.readText("/home/alice/.ssh/authorized_keys", { scope: "/home/alice" })).toBe(
      "alice-key\n",
    );
    // Checked once per data point; every later open must land on that same folder.
    await rename(join(root, "home/alice"), join(root, "home/alice-old"));
    await symlink(join(root, "root"), join(root, "home/alice"));
    expect(await reads.openFile("/home/alice/.ssh/authorized_keys", { scope: "/home/alice" })).toMatchObject({
      kind: "refused",
      code: "ERR_CONFLICT",
    });
  });

  test("names that would leave their folder are refused", async () => {
    const home = (await fs().openDir("/home/alice")) as SafeDir;
    await expect(home.openDir("..")).resolves.toMatchObject({ kind: "refused" });
    await expect(home.openFile("../../root/.ssh/authorized_keys")).resolves.toMatchObject({
      kind: "refused",
    });
    await home.close();
    expect(
      await fs().openFile("/home/alice/../../root/.ssh/authorized_keys", { scope: "/home/alice" }),
    ).toMatchObject({ code: "ERR_UNSAFE_PATH" });
  });
});
