import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, describe, expect, test } from "vitest";
import { collectDevice, directorySink, parseCsv } from "../src/index.js";

const linux = process.platform === "linux";
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function device(files: number): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "collect-temp-"));
  dirs.push(root);
  await mkdir(join(root, "tmp/big"), { recursive: true });
  await writeFile(join(root, "etc-passwd"), "");
  await Promise.all(Array.from({ length: files }, (_, i) => writeFile(join(root, "tmp/big", `f${i}`), "x")));
  await symlink("/etc/shadow", join(root, "tmp/link"));
  return root;
}

async function listing(root: string, maxListEntries?: number) {
  const out = join(root, "out");
  const result = await collectDevice({
    sink: directorySink(out),
    root,
    only: ["TempDirectories"],
    ...(maxListEntries === undefined ? {} : { limits: { maxListEntries } }),
  });
  const [header = [], ...rows] = parseCsv(await readFile(join(out, "TempDirectories/tmp.csv"), "utf8"));
  const records = rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
  return { row: result.rows.find((r) => r.dataPoint === "TempDirectories"), records };
}

describe.runIf(linux)("TempDirectories listing", () => {
  test("every entry once, depth first and sorted, links listed with their target, never followed", async () => {
    const root = await device(600);
    const { row, records } = await listing(root);
    expect(row?.status).toBe("ok");
    expect(records).toHaveLength(602);
    expect(records.slice(0, 3).map((r) => r.path)).toEqual(["/tmp/big", "/tmp/link", "/tmp/big/f0"]);
    expect(records.find((r) => r.path === "/tmp/link")).toMatchObject({
      type: "symlink",
      linkTarget: "/etc/shadow",
    });
    const names = records.slice(2).map((r) => r.path);
    expect(names).toEqual([...names].sort());
  });

  test("a name with a backslash is listed like any other (it separates nothing on Linux)", async () => {
    const root = await device(0);
    await writeFile(join(root, "tmp", "back\\slash"), "x");
    await mkdir(join(root, "tmp", "dir\\name"));
    await writeFile(join(root, "tmp", "dir\\name", "inside"), "x");
    const { row, records } = await listing(root);
    expect(row?.status).toBe("ok");
    expect(records.map((r) => r.path)).toEqual([
      "/tmp/back\\slash",
      "/tmp/big",
      "/tmp/dir\\name",
      "/tmp/link",
      "/tmp/dir\\name/inside",
    ]);
  });

  test("stops at maxListEntries across batches, recorded as ERR_SIZE_LIMIT", async () => {
    const root = await device(600);
    const { row, records } = await listing(root, 300);
    expect(row).toMatchObject({ status: "partial", errorCode: "ERR_SIZE_LIMIT" });
    expect(records).toHaveLength(300);
  });

  test("the listing never moves the process's working folder, as seen from a timer and from the sink", async () => {
    const root = await device(5000);
    const start = process.cwd();
    const seen = new Set<string>();
    let rows = 0;
    const sink = {
      async addStream(path: string, body: Readable) {
        // Timers and the thread pool run between chunks: what they see is what this records.
        const timer = setInterval(() => seen.add(process.cwd()), 0);
        try {
          for await (const chunk of body) {
            seen.add(process.cwd());
            if (path === "TempDirectories/tmp.csv") rows += String(chunk).split("\r\n").length - 1;
          }
        } finally {
          clearInterval(timer);
        }
      },
    };
    const result = await collectDevice({ sink, root, only: ["TempDirectories"] });
    expect(result.rows.find((r) => r.dataPoint === "TempDirectories")?.status).toBe("ok");
    expect(rows).toBe(5003);
    expect([...seen]).toEqual([start]);
    expect(process.cwd()).toBe(start);
  });

  test("times are the ISO forms of what lstat reports, before 1970 included", async () => {
    const root = await device(0);
    const times: [string, number][] = [
      ["pre-epoch", Date.UTC(1960, 0, 1, 12, 30, 15, 250) / 1000],
      ["epoch", 0],
      ["fraction", 1_765_000_000.123_6],
      ["leap-day", Date.UTC(2024, 1, 29, 23, 59, 59, 999) / 1000],
      ["year-2100", Date.UTC(2100, 4, 5, 12, 34, 56, 789) / 1000],
    ];
    for (const [name, seconds] of times) {
      const file = join(root, "tmp", name);
      await writeFile(file, "x");
      // Node's utimes turns a negative time into "now": touch sets the time before 1970.
      if (seconds < 0) execFileSync("touch", ["-d", `@${seconds}`, file]);
      else await utimes(file, seconds, seconds);
    }
    const { row, records } = await listing(root);
    expect(row?.status).toBe("ok");
    for (const [name] of times) {
      const info = await lstat(join(root, "tmp", name));
      const record = records.find((r) => r.path === `/tmp/${name}`);
      expect(record).toMatchObject({ mtime: info.mtime.toISOString(), atime: info.atime.toISOString() });
      expect(record?.ctime).toBe(info.ctime.toISOString());
    }
    expect(records.find((r) => r.path === "/tmp/pre-epoch")?.mtime).toBe("1960-01-01T12:30:15.250Z");
  });
});
