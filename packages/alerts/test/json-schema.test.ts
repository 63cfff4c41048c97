import { readFile } from "node:fs/promises";
import { alertJsonSchemas, alertSchema, createAlertEngine } from "@custody/alerts";
import { describe, expect, it } from "vitest";
import { sampleRecord } from "./fixtures.js";
import { memorySink } from "./memory-sink.js";

describe("docs/schemas/custody-alerts-v1.json and custody-alert-v1.json", () => {
  it.each(["custody-alerts-v1", "custody-alert-v1"])(
    "%s is what the zod schema generates (run `pnpm exec tsc -b && pnpm schemas` after a format change)",
    async (name) => {
      const committed = await readFile(
        new URL(`../../../docs/schemas/${name}.json`, import.meta.url),
        "utf8",
      );
      expect(JSON.parse(committed)).toEqual(alertJsonSchemas()[name]);
    },
  );

  it("every alert the engine raises passes alertSchema, a burst included", () => {
    const sink = memorySink();
    const engine = createAlertEngine({ sinks: [sink] });
    engine.observe(sampleRecord({ action: "evidence.purged", reason: "r".repeat(9000) }));
    for (let i = 0; i < 5; i += 1)
      engine.observe(sampleRecord({ outcome: "deny", actor: "x".repeat(1024), target: "😀".repeat(512) }));
    expect(sink.alerts.map((a) => a.rule)).toEqual(["evidence-purged", "denial-burst"]);
    for (const alert of sink.alerts) expect(alertSchema.parse(alert)).toEqual(alert);
  });
});
