import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, describe, expect, test } from "vitest";
import { type CollectionSink, collectDevice } from "../src/index.js";

// The attacker swaps a folder in /tmp for a symlink to root's folder after the listing has seen it as a
// folder and before the listing goes into it. The sink holds the point of the swap: it does it when the
// folder's row reaches it, long before the walk can enter the folder (thousands of rows come first, far
// more than every stream buffer in between holds).
const linux = process.platform === "linux";
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function swappingSink(
  race: string,
  onDisk: string,
  secret: string,
): CollectionSink & { listing: () => string } {
  let text = "";
  let swapped = false;
  return {
    listing: () => text,
    async addStream(path: string, body: Readable) {
      for await (const chunk of body) {
        if (path !== "TempDirectories/tmp.csv") continue;
        text += String(chunk);
        if (!swapped && text.includes(`${join(race, "a")},dir,`)) {
          swapped = true;
          await rename(join(onDisk, "a"), join(onDisk, "a-moved"));
          await symlink(secret, join(onDisk, "a"));
        }
      }
    },
  };
}

describe.runIf(linux)("a folder swapped for a symlink during the /tmp listing", () => {
  test("is refused with ERR_UNSAFE_PATH, and root's folder is never listed under it", async () => {
    // The device's root is a folder of this test's own (its /tmp holds only what the test puts there),
    // so the listing reaches the race whatever the machine's real /tmp holds.
    const root = await mkdtemp(join(tmpdir(), "custody-race-root-"));
    dirs.push(root);
    const race = "/tmp/race";
    const secret = "/tmp/race-secret";
    const onDisk = join(root, race);
    await mkdir(join(root, secret, "root-only-secret-name"), { recursive: true });
    await mkdir(join(onDisk, "a"), { recursive: true });
    await writeFile(join(onDisk, "a", "mallory-own-file"), "");
    const long = "x".repeat(200);
    await Promise.all(Array.from({ length: 8000 }, (_, i) => writeFile(join(onDisk, `f${long}${i}`), "")));
    const sink = swappingSink(race, onDisk, join(root, secret));
    const result = await collectDevice({ sink, root, only: ["TempDirectories"] });
    const listing = sink.listing();
    expect(listing).toContain(`${join(race, "a")},dir,`);
    // The secret folder is in /tmp too (listed under its own path); never under the swapped folder.
    expect(listing).toContain(`${secret}/root-only-secret-name`);
    expect(listing).not.toContain(`${join(race, "a")}/`);
    expect(result.rows.find((r) => r.dataPoint === "TempDirectories")).toMatchObject({
      status: "partial",
      errorCode: "ERR_UNSAFE_PATH",
    });
  }, 60_000);
});
