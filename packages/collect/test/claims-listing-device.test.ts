import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectDevice, directorySink, parseCsv } from "../src/index.js";

// packages/collect/README.md: the temp listing never leaves the root's device. A tmpfs mounted inside
// the listed /tmp is another device: its folder is listed, nothing inside it.
let base = "";
let mountPoint = "";
afterAll(async () => {
  try {
    if (mountPoint !== "") execFileSync("umount", ["-l", mountPoint], { stdio: "ignore" });
  } catch {}
  if (base !== "") await rm(base, { recursive: true, force: true });
});

describe("TempDirectories", () => {
  it.runIf(process.platform === "linux")(
    "lists a mounted folder but nothing on the other device",
    async (test) => {
      base = await mkdtemp(join(tmpdir(), "custody-listing-device-"));
      const root = join(base, "root");
      await mkdir(join(root, "tmp", "same-device"), { recursive: true });
      await writeFile(join(root, "tmp", "same-device", "listed"), "x");
      const other = join(root, "tmp", "other-device");
      await mkdir(other);
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", other], { stdio: "ignore" });
      } catch {
        return test.skip("needs permission to mount a tmpfs");
      }
      mountPoint = other;
      await writeFile(join(other, "beyond"), "y");

      const out = join(base, "out");
      const result = await collectDevice({ sink: directorySink(out), root, only: ["TempDirectories"] });
      expect(result.rows.find((r) => r.dataPoint === "TempDirectories")?.status).toMatch(/^(ok|partial)$/);
      const [header = [], ...rows] = parseCsv(await readFile(join(out, "TempDirectories/tmp.csv"), "utf8"));
      const paths = rows.map((r) => r[header.indexOf("path")]);
      expect(paths).toContain("/tmp/same-device/listed");
      expect(paths).toContain("/tmp/other-device");
      expect(paths).not.toContain("/tmp/other-device/beyond");
    },
  );
});
