import { expect, it } from "vitest";
import type { ConformanceHarness, ConformanceOptions } from "../conformance.js";
import type { EvidenceStore } from "../types.js";
import {
  abortingBody,
  chunks,
  collect,
  expectCode,
  failingBody,
  generatedBody,
  type ManualClock,
  peakRssGrowth,
  readAll,
} from "./conformance-kit.js";

const HOUR_MS = 3_600_000;

export function registerProtectionTests(
  store: () => EvidenceStore,
  clock: () => ManualClock,
  harness: () => ConformanceHarness,
): void {
  it("refuses delete while retained, never shortens retention, allows delete after expiry", async () => {
    const until = new Date(clock().now().getTime() + HOUR_MS);
    const record = await store().create("kept", chunks("evidence"), { retainUntil: until });
    expect(record.retainUntil?.getTime()).toBe(until.getTime());
    await expectCode(store().delete("kept"), "ERR_IMMUTABLE");
    await expectCode(store().extendRetention("kept", new Date(until.getTime() - 1000)), "ERR_IMMUTABLE");
    const later = new Date(until.getTime() + HOUR_MS);
    expect((await store().extendRetention("kept", later)).retainUntil?.getTime()).toBe(later.getTime());
    expect((await store().head("kept")).retainUntil?.getTime()).toBe(later.getTime());
    expect((await readAll(await store().read("kept"))).toString()).toBe("evidence");
    if (store().capabilities.retention === "service") return; // a real service clock cannot be moved
    clock().advance(3 * HOUR_MS);
    await store().delete("kept");
    await expectCode(store().head("kept"), "ERR_NOT_FOUND");
    await store().create("kept", chunks("new incarnation"));
  });

  it("refuses delete under legal hold until the hold is released", async () => {
    const held = await store().create("held", chunks("x"), { legalHold: true });
    expect(held.legalHold).toBe(true);
    await expectCode(store().delete("held"), "ERR_IMMUTABLE");
    expect((await store().setLegalHold("held", false)).legalHold).toBe(false);
    await store().create("later", chunks("y"));
    expect((await store().setLegalHold("later", true)).legalHold).toBe(true);
    expect((await store().head("later")).legalHold).toBe(true);
    await expectCode(store().delete("later"), "ERR_IMMUTABLE");
    await store().delete("held");
    await expectCode(store().read("held"), "ERR_NOT_FOUND");
    expect((await collect(store().list())).map((o) => o.key)).toEqual(["later"]);
  });

  it("fails a read with ERR_INTEGRITY_MISMATCH at the end when stored bytes changed, and verify finds it", async () => {
    await store().create("good", chunks("untouched bytes"));
    await store().create("victim", chunks("original bytes of the evidence"));
    if (harness().tamper === undefined) return;
    await harness().tamper?.("victim");
    const stream = await store().read("victim");
    let ended = false;
    stream.on("end", () => {
      ended = true;
    });
    await expectCode(readAll(stream), "ERR_INTEGRITY_MISMATCH");
    expect(ended).toBe(false);
    const verify = store().verify;
    if (verify === undefined) return;
    const results = await collect(verify.call(store()));
    expect(results.map((r) => [r.key, r.kind])).toEqual([
      ["good", "ok"],
      ["victim", "mismatch"],
    ]);
  });

  it("stores nothing when aborted or when the body fails, and the key stays free", async () => {
    const controller = new AbortController();
    await expectCode(
      store().create("aborted", abortingBody(controller, 3), { abortSignal: controller.signal }),
      "ERR_ABORTED",
    );
    await expectCode(
      store().create("aborted", chunks("x"), { abortSignal: AbortSignal.abort() }),
      "ERR_ABORTED",
    );
    await expect(store().create("failed", failingBody(3))).rejects.toMatchObject({ name: "CustodyError" });
    await expectCode(store().head("aborted"), "ERR_NOT_FOUND");
    await expectCode(store().head("failed"), "ERR_NOT_FOUND");
    expect(await collect(store().list())).toEqual([]);
    await store().create("aborted", chunks("later"));
    await store().create("failed", chunks("later"));
  });

  it("never shows an object while its create is still streaming", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = async function* () {
      yield Buffer.alloc(256 * 1024, 1);
      await gate;
      yield Buffer.alloc(256 * 1024, 2);
    };
    const pending = store().create("in-flight", slow());
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectCode(store().head("in-flight"), "ERR_NOT_FOUND");
    await expectCode(store().read("in-flight"), "ERR_NOT_FOUND");
    expect(await collect(store().list())).toEqual([]);
    release();
    expect((await pending).size).toBe(512 * 1024);
    expect((await collect(store().list())).map((o) => o.key)).toEqual(["in-flight"]);
  });

  it("sets retention on an object created without it, then refuses delete", async () => {
    await store().create("plain", chunks("x"));
    const until = new Date(clock().now().getTime() + HOUR_MS);
    expect((await store().extendRetention("plain", until)).retainUntil?.getTime()).toBe(until.getTime());
    await expectCode(store().delete("plain"), "ERR_IMMUTABLE");
    expect((await store().extendRetention("plain", until)).retainUntil?.getTime()).toBe(until.getTime());
  });

  it("aborts a read with ERR_ABORTED", async () => {
    await store().create("r", chunks("x".repeat(100_000)));
    const controller = new AbortController();
    const stream = await store().read("r", { abortSignal: controller.signal });
    controller.abort();
    await expectCode(readAll(stream), "ERR_ABORTED");
  });
}

export function registerLargeObjectTests(store: () => EvidenceStore, options: ConformanceOptions): void {
  const size = options.largeObjectBytes ?? 64 * 1024 * 1024;
  const maxGrowth = options.maxRssGrowthBytes ?? 150 * 1024 * 1024;
  it.skipIf(size === 0)(
    `streams a ${Math.round(size / 1024 / 1024)} MiB object in and out without growing memory`,
    async () => {
      const { body, digest } = generatedBody(size);
      const written = await peakRssGrowth(() => store().create("large", body));
      expect(written.result).toMatchObject({ size, sha256: digest() });
      expect(written.growth).toBeLessThan(maxGrowth);
      const read = await peakRssGrowth(async () => {
        const { createHash } = await import("node:crypto");
        const hash = createHash("sha256");
        let n = 0;
        for await (const chunk of await store().read("large")) {
          hash.update(chunk as Buffer);
          n += (chunk as Buffer).byteLength;
        }
        return { n, sha256: hash.digest("hex") };
      });
      expect(read.result).toEqual({ n: size, sha256: digest() });
      expect(read.growth).toBeLessThan(maxGrowth);
    },
    options.largeObjectTimeoutMs ?? 600_000,
  );
}
