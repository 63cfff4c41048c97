import { lchown, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type CollectionResult,
  collectDevice,
  directorySink,
  parseCsv,
  type SinkItem,
} from "../src/index.js";

// A device tree where an unprivileged user (mallory, uid 1001) has pointed folders in her home, and
// folders she could write under /etc-like roots, at root's files. Nothing root owns may be collected,
// and nothing may be attributed to her: each refusal is recorded with ERR_UNSAFE_PATH.
const linux = process.platform === "linux";
const SECRET = "ROOT-ONLY-SECRET";
const MALLORY = 1001;
let base: string;
let root: string;
let out: string;
let result: CollectionResult;
let items: readonly SinkItem[];

const put = async (path: string, text: string) => {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), text);
};
/** A symlink planted by mallory: owned by her uid, pointing at root's real folder. */
const plant = async (path: string, target: string) => {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await symlink(join(root, target), join(root, path));
  if (process.getuid?.() === 0) await lchown(join(root, path), MALLORY, MALLORY);
};

async function buildTree(): Promise<void> {
  await put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nmallory:x:1001:1001::/home/mallory:/bin/bash\n");
  await put("etc/group", "root:x:0:\nmallory:x:1001:\n");
  // Root's own files, the targets of every link below.
  for (const file of [
    ".ssh/authorized_keys",
    ".local/share/fish/fish_history",
    ".config/autostart/evil.desktop",
    ".config/fish/config.fish",
    ".local/share/Trash/files/secret.txt",
    "sudoers.d/admins",
    "cron/crontabs/root",
    "ssh-etc/sshd_config",
    "audit/audit.log",
    "journal/m1/system.journal",
    "dpkg/status",
    "wants/evil.service",
  ])
    await put(`secret/${file}`, `${SECRET} ${file}\n`);
  await put("secret/.cache/secret-name-ROOT-ONLY-SECRET", "");
  await mkdir(join(root, "home/mallory"), { recursive: true });
  // In her home: below the home nothing is followed, whoever owns the link.
  await plant("home/mallory/.ssh", "secret/.ssh");
  await plant("home/mallory/.local", "secret/.local");
  await plant("home/mallory/.config", "secret/.config");
  await plant("home/mallory/.cache", "secret/.cache");
  // Under system roots: links made by someone other than root are not followed either.
  await plant("etc/sudoers.d", "secret/sudoers.d");
  await plant("var/spool/cron", "secret/cron");
  await plant("etc/ssh", "secret/ssh-etc");
  await plant("var/log/audit", "secret/audit");
  await mkdir(join(root, "var/log/journal"), { recursive: true });
  await plant("var/log/journal/m1", "secret/journal/m1");
  await plant("var/lib/dpkg", "secret/dpkg");
  await mkdir(join(root, "etc/systemd/system"), { recursive: true });
  await plant("etc/systemd/system/multi-user.target.wants", "secret/wants");
}

const table = async (path: string) => {
  const [header = [], ...rows] = parseCsv(await readFile(join(out, path), "utf8"));
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
};
const row = (name: string) => result.rows.find((r) => r.dataPoint === name);
const problems = async () => {
  const log = await readFile(join(out, "CollectorLog/CollectorLog.jsonl"), "utf8");
  return log
    .split("\n")
    .filter(Boolean)
    .flatMap((l) => {
      const entry = JSON.parse(l) as { dataPoint?: string; problems?: { source: string; code: string }[] };
      return (entry.problems ?? []).map((p) => ({ dataPoint: entry.dataPoint, ...p }));
    });
};

beforeAll(async () => {
  if (!linux) return;
  base = await mkdtemp(join(tmpdir(), "collect-symlinks-"));
  root = join(base, "device");
  out = join(base, "out");
  await buildTree();
  const sink = directorySink(out);
  result = await collectDevice({
    sink,
    root,
    only: [
      "Autoruns",
      "Prefetch",
      "TempDirectories",
      "UsersAndGroups",
      "ScheduledTasks",
      "SecurityEventLog",
      "InstalledPrograms",
      "Services",
    ],
  });
  items = sink.items;
}, 60_000);

afterAll(async () => {
  if (process.env.KEEP_TREE) console.log(base);
  else if (base !== undefined) await rm(base, { recursive: true, force: true });
});

describe.runIf(linux)("symlinks in the middle of a path are refused, never followed", () => {
  test("no byte of root's files is collected, and no listing names them", async () => {
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      const text = await readFile(join(out, item.path), "utf8");
      expect({ path: item.path, leaked: text.includes(SECRET) }).toEqual({ path: item.path, leaked: false });
    }
  });

  test("~/.ssh -> root's .ssh: authorized_keys is an ERR_UNSAFE_PATH entry, not mallory's key", async () => {
    expect(items.some((i) => i.path.startsWith("Autoruns/Users/mallory/"))).toBe(false);
    const keys = (await table("Autoruns/Autoruns.csv")).find(
      (r) => r.entry === "/home/mallory/.ssh/authorized_keys",
    );
    expect(keys).toMatchObject({ kind: "user-file", copy: "ERR_UNSAFE_PATH", detail: "mallory" });
    expect(row("Autoruns")).toMatchObject({ status: "partial", errorCode: "ERR_UNSAFE_PATH" });
  });

  test("Prefetch: histories under a symlinked ~/.local are refused", async () => {
    const listed = await table("Prefetch/PrefetchFilesList.csv");
    expect(listed.find((r) => r.source === "/home/mallory/.local/share/fish/fish_history")).toMatchObject({
      status: "ERR_UNSAFE_PATH",
    });
    expect(items.some((i) => i.path.startsWith("Prefetch/Histories/mallory/"))).toBe(false);
    expect(row("Prefetch")?.errorCode).toBe("ERR_UNSAFE_PATH");
  });

  test("TempDirectories: ~/.cache and ~/.local/share/Trash behind links are not listed", async () => {
    expect(items.some((i) => i.path.startsWith("TempDirectories/Users/mallory/"))).toBe(false);
    const refused = (await problems()).filter((p) => p.dataPoint === "TempDirectories");
    expect(refused.map((p) => [p.source, p.code])).toEqual(
      expect.arrayContaining([
        ["/home/mallory/.cache", "ERR_UNSAFE_PATH"],
        ["/home/mallory/.local/share/Trash", "ERR_UNSAFE_PATH"],
      ]),
    );
  });

  test("/etc-like roots: a folder someone other than root linked is refused in every collector", async () => {
    const refused = (await problems()).filter((p) => p.code === "ERR_UNSAFE_PATH");
    const at = (dataPoint: string) => refused.filter((p) => p.dataPoint === dataPoint).map((p) => p.source);
    expect(at("UsersAndGroups")).toContain("/etc/sudoers.d");
    expect(at("ScheduledTasks")).toEqual(expect.arrayContaining(["/var/spool/cron"]));
    expect(at("Autoruns")).toEqual(
      expect.arrayContaining(["/etc/ssh/sshd_config", "/etc/systemd/system/multi-user.target.wants"]),
    );
    expect(at("Prefetch")).toContain("/var/log/audit");
    expect(at("SecurityEventLog")).toContain("/var/log/journal/m1");
    expect(at("Services")).toContain("/etc/systemd/system/multi-user.target.wants");
    expect(at("InstalledPrograms")).toContain("/var/lib/dpkg/status");
    for (const name of ["UsersAndGroups", "ScheduledTasks", "SecurityEventLog", "Services"])
      expect(row(name)?.errorCode).toBe("ERR_UNSAFE_PATH");
    // A refused source is there: the data point fails with the code, it is not "not-present".
    expect(row("InstalledPrograms")).toMatchObject({ status: "failed", errorCode: "ERR_UNSAFE_PATH" });
  });
});
