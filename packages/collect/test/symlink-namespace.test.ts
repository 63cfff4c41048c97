import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { lchown, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { parseCsv } from "../src/index.js";

// The attack on the machine's real paths, in a private mount namespace so the host is not
// touched: a user whose ~/.ssh is a symlink to /root/.ssh. Runs the built dist/ as a child process
// (CI builds with tsc -b before the tests run).
const dist = new URL("../dist/index.js", import.meta.url);
const canRun =
  process.platform === "linux" &&
  process.getuid?.() === 0 &&
  existsSync(dist) &&
  spawnSync("unshare", ["-m", "true"]).status === 0;
const SECRET = "ssh-ed25519 AAAAC3-ROOT-ONLY-KEY root@host";
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe.runIf(canRun)("a user's ~/.ssh -> /root/.ssh on the real filesystem", () => {
  test("root's authorized_keys is never copied nor attributed to the user", async () => {
    const base = await mkdtemp(join(tmpdir(), "collect-ns-"));
    dirs.push(base);
    const home = join(base, "home", "mallory");
    await mkdir(join(base, "rootdir", ".ssh"), { recursive: true });
    await writeFile(join(base, "rootdir", ".ssh", "authorized_keys"), `${SECRET}\n`);
    await writeFile(join(base, "rootdir", ".bash_history"), "ROOT-ONLY-HISTORY\n");
    await mkdir(join(home, ".local", "share"), { recursive: true });
    await symlink("/root/.ssh", join(home, ".ssh"));
    await symlink("/root", join(home, ".local", "share", "fish"));
    await lchown(join(home, ".ssh"), 1001, 1001);
    await writeFile(
      join(base, "passwd"),
      `root:x:0:0:root:/root:/bin/sh\nmallory:x:1001:1001::${home}:/bin/sh\n`,
    );
    await writeFile(join(base, "group"), "root:x:0:\nmallory:x:1001:\n");
    const out = join(base, "out");
    const script = `
      const { collectDevice, directorySink } = await import(${JSON.stringify(dist.href)});
      const result = await collectDevice({ sink: directorySink(process.argv[1]), only: ["Autoruns", "Prefetch"] });
      process.stdout.write(JSON.stringify(result.rows));
    `;
    const shell = [
      `mount --bind ${base}/passwd /etc/passwd`,
      `mount --bind ${base}/group /etc/group`,
      `mount --bind ${base}/rootdir /root`,
      `exec "$0" --input-type=module -e "$1" "$2"`,
    ].join(" && ");
    const stdout = execFileSync("unshare", ["-m", "sh", "-c", shell, process.execPath, script, out], {
      encoding: "utf8",
      timeout: 120_000,
    });
    const rows = JSON.parse(stdout) as { dataPoint: string; status: string; errorCode?: string }[];
    const files = await readdir(out, { recursive: true });
    for (const file of files.filter((f) => f.includes("."))) {
      const text = await readFile(join(out, file), "utf8").catch(() => "");
      expect({ file, leaked: text.includes("ROOT-ONLY") }).toEqual({ file, leaked: false });
    }
    expect(files.some((f) => f.startsWith(join("Autoruns", "Users", "mallory")))).toBe(false);
    const [header = [], ...autoruns] = parseCsv(await readFile(join(out, "Autoruns/Autoruns.csv"), "utf8"));
    const keys = autoruns
      .map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])))
      .find((r) => r.entry === join(home, ".ssh/authorized_keys"));
    expect(keys).toMatchObject({ copy: "ERR_UNSAFE_PATH", detail: "mallory" });
    expect(rows.find((r) => r.dataPoint === "Autoruns")?.errorCode).toBe("ERR_UNSAFE_PATH");
    expect(rows.find((r) => r.dataPoint === "Prefetch")?.errorCode).toBe("ERR_UNSAFE_PATH");
  }, 150_000);
});
