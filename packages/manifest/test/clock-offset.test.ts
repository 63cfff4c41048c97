import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  type ClockOffset,
  clockOffsetFrom,
  imprintOf,
  measureClockOffset,
  verifyTimestampToken,
} from "@custody/manifest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./fixtures.js";
import { startTestTsa, type TestTsa } from "./tsa.js";

let work: { dir: string; remove(): Promise<void> };
let tsa: TestTsa;

beforeAll(async () => {
  work = await tempDir("offset");
  await mkdir(join(work.dir, "tsa"));
  tsa = await startTestTsa(join(work.dir, "tsa"));
});

afterAll(async () => {
  await tsa?.close();
  await work?.remove();
});

describe("clock offset against a TSA", () => {
  it("bounds the true offset whatever the round trip, the skew and the truncation of genTime", () => {
    const property = fc.property(
      fc.integer({ min: 0, max: 2_000_000_000_000 }),
      fc.integer({ min: -3_600_000, max: 3_600_000 }),
      fc.integer({ min: 0, max: 5_000 }),
      fc.integer({ min: 0, max: 5_000 }),
      fc.boolean(),
      (sent, trueOffset, tsaDelay, roundTrip, truncated) => {
        const answeredAt = sent + Math.min(tsaDelay, roundTrip); // local time when the TSA read its clock
        const tsaClock = answeredAt + trueOffset;
        const stated = truncated
          ? Math.floor(tsaClock / 1000) * 1000
          : tsaClock + (tsaClock % 1000 === 0 ? 1 : 0);
        const { offsetMs, uncertaintyMs } = clockOffsetFrom(new Date(sent), new Date(sent + roundTrip), {
          time: new Date(stated),
          accuracyMs: 0,
        });
        expect(Math.abs(offsetMs - trueOffset)).toBeLessThanOrEqual(uncertaintyMs + 1);
      },
    );
    fc.assert(property);
  });

  it("measures this machine against the test TSA (same clock: the bound holds 0) and keeps the token as evidence", async () => {
    const measured = await measureClockOffset(
      { url: tsa.url, trust: { trustAnchors: [tsa.caPem] } },
      { label: "start" },
    );
    expect("error" in measured).toBe(false);
    const offset = measured as ClockOffset;
    expect(Math.abs(offset.offsetMs)).toBeLessThanOrEqual(offset.uncertaintyMs);
    expect(offset.statement).toContain(offset.localSentAt);
    const info = verifyTimestampToken(
      Buffer.from(offset.token, "base64"),
      imprintOf(Buffer.from(offset.statement)),
      {
        trustAnchors: [tsa.caPem],
      },
    );
    expect(info.time.toISOString()).toBe(offset.referenceTime);
  });

  it("records why when the TSA cannot be asked", async () => {
    const measured = await measureClockOffset({
      url: `${tsa.origin}/down`,
      trust: { trustAnchors: [tsa.caPem] },
    });
    expect(measured).toMatchObject({
      reference: `${tsa.origin}/down`,
      error: { code: "ERR_BACKEND_UNAVAILABLE" },
    });
  });
});
