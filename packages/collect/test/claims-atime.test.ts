import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectDevice, hashingSink } from "../src/index.js";

// packages/collect/README.md: files are opened with O_NOATIME where the kernel allows, so access times
// are preserved. Each file's atime is set before its mtime, which a plain read updates (relatime rules
// too); the control file shows that this filesystem does update it.
const linux = process.platform === "linux";
let base = "";
afterAll(async () => {
  if (base !== "") await rm(base, { recursive: true, force: true });
});

const OLD = new Date("2020-01-01T00:00:00.000Z");
const RECENT = new Date("2024-01-01T00:00:00.000Z");

async function agedFile(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await utimes(path, OLD, RECENT);
}

describe("reading evidence", () => {
  it.runIf(linux)("leaves the access time of every file it collects as it was", async (test) => {
    base = await mkdtemp(join(tmpdir(), "custody-atime-"));
    const root = join(base, "root");
    await mkdir(join(root, "etc"), { recursive: true });
    const files = ["etc/passwd", "etc/group"].map((path) => join(root, path));
    await agedFile(files[0] ?? "", "root:x:0:0:root:/root:/bin/bash\n");
    await agedFile(files[1] ?? "", "root:x:0:\n");
    const control = join(base, "control");
    await agedFile(control, "read plainly\n");
    await readFile(control);
    if ((await stat(control)).atimeMs === OLD.getTime())
      return test.skip("this filesystem never updates atime");

    const result = await collectDevice({ root, only: ["UsersAndGroups"], sink: hashingSink() });
    expect(result.rows.find((row) => row.dataPoint === "UsersAndGroups")?.status).toMatch(/^(ok|partial)$/);
    for (const file of files) expect((await stat(file)).atime.toISOString(), file).toBe(OLD.toISOString());
  });
});
