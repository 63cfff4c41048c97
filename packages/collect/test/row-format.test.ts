import { execFileSync } from "node:child_process";
import { lstatSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { csvLine } from "../src/csv.js";
import { Chunks } from "../src/linux/csv-chunks.js";
import { RowFormat } from "../src/linux/row-format.js";
import { collectFs, SafeDir } from "../src/safe-fs.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

// Names and times that take each branch of the byte writer: non-ASCII, numbers past 2^32, before 1970,
// after 2100, a half millisecond (rounded), and names the writer must hand back to the string path.
const FILES: [string, string | undefined][] = [
  ["plain", undefined],
  ["ünïcødé-日本", "@1765000000.1236"],
  ["pre-epoch", "1960-01-01T12:30:15.25Z"],
  ["year-2200", "2200-03-04T05:06:07.891Z"],
  ["half-ms", "@0.0005"],
  ["big", undefined],
  ["with,comma", undefined],
  ['with"quote', undefined],
  ["=formula", undefined],
];

describe.runIf(process.platform === "linux")("listing rows", () => {
  test("the byte writer gives what the string row and csvLine give, and declines names that need quotes", async () => {
    const root = await mkdtemp(join(tmpdir(), "collect-rows-"));
    dirs.push(root);
    await mkdir(join(root, "d"));
    for (const [name, time] of FILES) {
      await writeFile(join(root, "d", name), "x");
      if (time !== undefined) execFileSync("touch", ["-h", "-d", time, join(root, "d", name)]);
    }
    await truncate(join(root, "d", "big"), 5_000_000_000);
    await symlink("/somewhere,else", join(root, "d", "link"));
    const dir = await collectFs(root).openDir("/d");
    if (!(dir instanceof SafeDir)) throw new Error("not opened");
    const owners = (uid: number) => (uid === 0 ? "root" : `user-${uid}`);
    const format = new RowFormat(owners);
    const prefix = format.prefixBytes("/d/");
    expect(prefix).toBeDefined();
    for (const name of [...FILES.map(([n]) => n), "link"]) {
      const info = lstatSync(join(root, "d", name));
      const line = format.line(`/d/${name}`, info, dir, name);
      const chunks = new Chunks();
      const written = format.write(chunks, prefix as Buffer, name, info, dir);
      if (/[",]/.test(name)) {
        expect(written).toBe(false);
        continue;
      }
      expect(written).toBeUndefined();
      expect(chunks.take()?.toString("utf8")).toBe(line);
      const type = info.isSymbolicLink() ? "symlink" : "file";
      const link = info.isSymbolicLink() ? "/somewhere,else" : "";
      const birth = info.birthtimeMs > 0 ? info.birthtime : "";
      expect(line).toBe(
        csvLine([
          `/d/${name}`,
          type,
          info.size,
          info.uid,
          owners(info.uid),
          info.gid,
          (info.mode & 0o7777).toString(8).padStart(4, "0"),
          info.mtime,
          info.atime,
          info.ctime,
          birth,
          link,
        ]),
      );
    }
    expect(format.prefixBytes("/a,b/")).toBeUndefined();
    expect(format.prefixBytes("=x/")).toBeUndefined();
    await dir.close();
  });
});
