import { constants, PerformanceObserver } from "node:perf_hooks";
import { noteTransientBytes } from "@custody/core";
import { describe, expect, it } from "vitest";

describe("noteTransientBytes", () => {
  it("asks V8 for a scavenge (a forced collection) once 16 MiB (or the caller's own amount) were counted, and not before", async () => {
    const forced: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const detail = entry.detail as { kind: number; flags: number } | undefined;
        // V8 runs a full collection instead when one is under way (incremental marking): forced either way
        if (detail !== undefined && (detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0)
          forced.push(entry.startTime);
      }
    });
    observer.observe({ entryTypes: ["gc"] });
    // gc entries reach the observer a little later: wait for the count, then a while for any extra one
    const settle = async (count: number) => {
      for (let waited = 0; forced.length < count && waited < 5000; waited += 10)
        await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 100));
      return forced.length;
    };
    noteTransientBytes(16 * 1024 * 1024); // whatever was counted before, this crosses the line once
    expect(await settle(1)).toBe(1);
    for (let i = 0; i < 15; i++) noteTransientBytes(1024 * 1024); // 15 MiB: not yet
    expect(await settle(1)).toBe(1);
    noteTransientBytes(1024 * 1024);
    expect(await settle(2)).toBe(2);
    noteTransientBytes(4 * 1024 * 1024, 4 * 1024 * 1024); // a caller bound by memory asks sooner
    expect(await settle(3)).toBe(3);
    observer.disconnect();
  });
});
