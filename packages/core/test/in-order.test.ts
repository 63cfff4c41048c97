import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { mapInOrder } from "../src/in-order.js";

async function* numbers(count: number): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) yield i;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of source) out.push(value);
  return out;
}

describe("mapInOrder", () => {
  it("yields the results in the source's order when later reads finish first", async () => {
    const read = async (n: number) => {
      await sleep((20 - n) * 2); // the last value answers first
      return n * 10;
    };
    expect(await collect(mapInOrder(numbers(20), read, 8))).toEqual(
      Array.from({ length: 20 }, (_, n) => n * 10),
    );
  });

  it("keeps at most `window` reads in flight, and does overlap them", async () => {
    let inFlight = 0;
    let most = 0;
    const read = async (n: number) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(2);
      inFlight--;
      return n;
    };
    await collect(mapInOrder(numbers(50), read, 5));
    expect(most).toBe(5);
  });

  it("surfaces a failure at its place: the values before it are yielded, none after", async () => {
    const seen: number[] = [];
    const read = async (n: number) => {
      await sleep(n === 3 ? 10 : 1);
      if (n === 3) throw new Error("read 3 failed");
      return n;
    };
    await expect(
      (async () => {
        for await (const value of mapInOrder(numbers(10), read, 4)) seen.push(value);
      })(),
    ).rejects.toThrow("read 3 failed");
    expect(seen).toEqual([0, 1, 2]);
  });

  it("a consumer that stops early leaves no unhandled rejection behind", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const read = async (n: number) => {
        await sleep(1);
        if (n > 0) throw new Error(`read ${n} failed`);
        return n;
      };
      for await (const value of mapInOrder(numbers(6), read, 6)) {
        expect(value).toBe(0);
        break;
      }
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
