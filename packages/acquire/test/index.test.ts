import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as acquirePackage from "@custody/acquire";
import { describe, expect, it } from "vitest";
import { makeVault, readBack } from "./helpers.js";

describe("@custody/acquire public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(acquirePackage).sort()).toEqual(["acquire", "acquireAzureVm"]);
  });

  it("runs the README example", async () => {
    const t = await makeVault("custody-acquire-index-");
    try {
      const image = join(t.work, "disk.img");
      await writeFile(image, randomBytes(2 * 1024 * 1024));
      const { vault, alice } = t;
      // README: acquire an image file (a block device or a snapshot's SAS URL are given the same way)
      const item = await acquirePackage.acquire(vault, alice, image, { caseId: "IR-7", verifySource: true });
      expect(item.image?.verification?.matched).toBe(true);
      expect(item.image?.readErrors).toEqual([]);
      expect(await readBack(t, item.id)).toEqual({ sha256: item.digests.sha256, size: item.size });
    } finally {
      await t.cleanup();
    }
  });
});
