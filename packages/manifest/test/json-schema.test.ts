import { readFile } from "node:fs/promises";
import { custodyManifestJsonSchema } from "@custody/manifest";
import { describe, expect, it } from "vitest";

describe("docs/schemas/custody-manifest-v1.json", () => {
  it("is what the zod schema generates (run `pnpm exec tsc -b && pnpm schemas` after a format change)", async () => {
    const committed = await readFile(
      new URL("../../../docs/schemas/custody-manifest-v1.json", import.meta.url),
      "utf8",
    );
    expect(JSON.parse(committed)).toEqual(custodyManifestJsonSchema());
  });
});
