import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { accessPolicySchema } from "@custody/access";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const file = fileURLToPath(new URL("../../../docs/schemas/access-policy.schema.json", import.meta.url));

// The published JSON Schema is generated from the zod schema; rerun with UPDATE_SCHEMAS=1 after a change.
describe("docs/schemas/access-policy.schema.json", () => {
  it("matches the zod schema", async () => {
    const generated = {
      $id: "https://custody.invalid/schemas/access-policy.schema.json",
      title: "custody.access-policy/v1",
      ...z.toJSONSchema(accessPolicySchema, { io: "input" }),
    };
    const text = `${JSON.stringify(generated, null, 2)}\n`;
    if (process.env.UPDATE_SCHEMAS === "1") {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    }
    expect(await readFile(file, "utf8")).toBe(text);
  });
});
