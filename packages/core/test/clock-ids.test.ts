import { fixedClock, sequentialIds, silentLogger, systemClock, uuidv7Generator } from "@custody/core";
import { describe, expect, it } from "vitest";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("clocks", () => {
  it("a fixed clock answers the same time, or steps by stepMs per call", () => {
    const still = fixedClock("2026-01-02T03:04:05.000Z");
    expect(still.now().toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect(still.now().toISOString()).toBe("2026-01-02T03:04:05.000Z");
    const stepping = fixedClock(new Date("2026-01-01T00:00:00.000Z"), 1500);
    expect([stepping.now(), stepping.now(), stepping.now()].map((d) => d.toISOString())).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T00:00:01.500Z",
      "2026-01-01T00:00:03.000Z",
    ]);
  });

  it("a returned date cannot move the clock", () => {
    const clock = fixedClock("2026-01-01T00:00:00.000Z");
    clock.now().setFullYear(1999);
    expect(clock.now().getUTCFullYear()).toBe(2026);
  });

  it("the system clock is the real time", () => {
    const before = Date.now();
    const now = systemClock.now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});

describe("ids", () => {
  it("UUIDv7: version and variant bits, the clock's milliseconds first, unique", () => {
    const at = new Date("2026-05-06T07:08:09.010Z");
    const ids = uuidv7Generator(fixedClock(at));
    const many = Array.from({ length: 1000 }, () => ids.next());
    for (const id of many) expect(id).toMatch(UUID_V7);
    expect(new Set(many).size).toBe(1000);
    const first = many[0] as string;
    expect(Number.parseInt(first.replaceAll("-", "").slice(0, 12), 16)).toBe(at.getTime());
  });

  it("UUIDv7 ids sort by creation time", () => {
    const ids = uuidv7Generator(fixedClock("2026-01-01T00:00:00.000Z", 1));
    const made = Array.from({ length: 200 }, () => ids.next());
    expect([...made].sort()).toEqual(made);
  });

  it("sequential ids for tests", () => {
    const ids = sequentialIds("item");
    expect([ids.next(), ids.next(), ids.next()]).toEqual(["item-1", "item-2", "item-3"]);
    expect(sequentialIds().next()).toBe("id-1");
  });

  it("the silent logger accepts every call and does nothing", () => {
    for (const level of ["debug", "info", "warn", "error"] as const) {
      expect(silentLogger[level]({ a: 1 }, "message")).toBeUndefined();
    }
  });
});
