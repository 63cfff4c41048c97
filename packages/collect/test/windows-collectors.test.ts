import { describe, expect, test } from "vitest";
import { collectDevice, hashingSink, windowsCollectors } from "../src/index.js";

// The Windows commands exist only on Windows; elsewhere every data point must still end in a recorded
// status (tool not found), never a crash or a hang.
describe.runIf(process.platform !== "win32")("Windows collectors away from Windows", () => {
  test("every data point is recorded with a coded status", async () => {
    const result = await collectDevice({
      sink: hashingSink(),
      collectors: windowsCollectors(),
      limits: { timeoutMs: 10_000 },
    });
    expect(result.rows).toHaveLength(13);
    for (const row of result.rows.filter((r) => r.dataPoint !== "CollectorLog")) {
      expect(["partial", "failed", "ok"]).toContain(row.status);
      if (row.status !== "ok") expect(row.errorCode).toMatch(/^ERR_/);
    }
    expect(result.rows.find((r) => r.dataPoint === "NetworkConnections")?.errorCode).toBe("ERR_NOT_PRESENT");
  });
});
