import { constants, PerformanceObserver } from "node:perf_hooks";
import { noteTransientBytes } from "@custody/core";
import { describe, expect, it } from "vitest";

describe("noteTransientBytes", () => {
  it("asks V8 for a scavenge (a forced minor collection) once 16 MiB were counted, and not before", async () => {
    const forcedMinor: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const detail = entry.detail as { kind: number; flags: number } | undefined;
        if (
          detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR &&
          (detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0
        )
          forcedMinor.push(entry.startTime);
      }
    });
    observer.observe({ entryTypes: ["gc"] });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
    noteTransientBytes(16 * 1024 * 1024); // whatever was counted before, this crosses the line once
    await settle();
    expect(forcedMinor).toHaveLength(1);
    for (let i = 0; i < 15; i++) noteTransientBytes(1024 * 1024); // 15 MiB: not yet
    await settle();
    expect(forcedMinor).toHaveLength(1);
    noteTransientBytes(1024 * 1024);
    await settle();
    observer.disconnect();
    expect(forcedMinor).toHaveLength(2);
  });
});
