import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  chunks,
  collect,
  expectCode,
  type ManualClock,
  manualClock,
  readAll,
  sha256,
  watchedBody,
} from "./internal/conformance-kit.js";
import { registerLargeObjectTests, registerProtectionTests } from "./internal/conformance-more.js";
import type { EvidenceStore } from "./types.js";

/** What a backend's test hands the suite for one test. */
export interface ConformanceHarness {
  store: EvidenceStore;
  /** Changes stored bytes of `key` behind the store's back (a flipped byte on disk, a rewritten blob); without it the tamper test is skipped. */
  tamper?(key: string): Promise<void>;
  cleanup?(): Promise<void>;
}

export interface ConformanceContext {
  /** The store must take its time from this clock; the suite moves it to let retention expire. */
  clock: ManualClock;
}

export interface ConformanceOptions {
  /** Size of the multi-GiB streaming test (0 skips it); default 64 MiB to keep CI modest. */
  largeObjectBytes?: number;
  /** Resident-set growth allowed while the large object streams in and out; default 150 MiB. */
  maxRssGrowthBytes?: number;
  /** Per-test timeout of the large-object test; default 10 minutes. */
  largeObjectTimeoutMs?: number;
}

export type { ManualClock } from "./manual-clock.js";

/** The one suite every EvidenceStore backend passes. Call it at the top level of a vitest file. */
export function testEvidenceStore(
  name: string,
  factory: (context: ConformanceContext) => Promise<ConformanceHarness | EvidenceStore>,
  options: ConformanceOptions = {},
): void {
  describe(`EvidenceStore conformance: ${name}`, () => {
    let harness: ConformanceHarness;
    let clock: ManualClock;
    const store = (): EvidenceStore => harness.store;
    beforeEach(async () => {
      clock = manualClock();
      const made = await factory({ clock });
      // A bare store is accepted too (no tamper hook, nothing to clean up).
      harness = "store" in made ? made : { store: made };
    });
    afterEach(async () => {
      await harness.store.close?.();
      await harness.cleanup?.();
    });

    registerBasicTests(store);
    registerCreateOnlyTests(store);
    registerProtectionTests(
      store,
      () => clock,
      () => harness,
    );
    registerLargeObjectTests(store, options);
  });
}

function registerBasicTests(store: () => EvidenceStore): void {
  it("stores a stream and reads the same bytes back, with an honest record", async () => {
    const record = await store().create("case-1/item-1", chunks("hello ", "evidence"), {
      metadata: { source: "laptop", note: "Zoë's drive" },
    });
    expect(record).toMatchObject({
      key: "case-1/item-1",
      size: 14,
      sha256: sha256("hello evidence"),
      legalHold: false,
    });
    expect(record.metadata).toEqual({ source: "laptop", note: "Zoë's drive" });
    expect(record.createdAt).toBeInstanceOf(Date);
    expect(typeof record.version).toBe("string");
    expect((await readAll(await store().read("case-1/item-1"))).toString()).toBe("hello evidence");
    const head = await store().head("case-1/item-1");
    expect({ ...head, createdAt: head.createdAt.getTime() }).toEqual({
      ...record,
      createdAt: record.createdAt.getTime(),
    });
    const { object, body } = await store().readObject("case-1/item-1");
    expect({ ...object, createdAt: object.createdAt.getTime() }).toEqual({
      ...record,
      createdAt: record.createdAt.getTime(),
    });
    expect((await readAll(body)).toString()).toBe("hello evidence");
    await expectCode(store().readObject("missing"), "ERR_NOT_FOUND");
  });

  it("stores an empty object and a Readable body", async () => {
    const { Readable } = await import("node:stream");
    await store().create("empty", chunks());
    expect(await readAll(await store().read("empty"))).toHaveLength(0);
    const record = await store().create("readable", Readable.from([Buffer.from("abc"), Buffer.from("def")]));
    expect(record.sha256).toBe(sha256("abcdef"));
  });

  it("reports progress up to the object's size", async () => {
    const seen: number[] = [];
    await store().create("p", chunks("a".repeat(1000), "b".repeat(500)), { onProgress: (n) => seen.push(n) });
    expect(seen.at(-1)).toBe(1500);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it("keeps ERR_NOT_FOUND distinct for every method", async () => {
    await expectCode(store().read("missing"), "ERR_NOT_FOUND");
    await expectCode(store().head("missing"), "ERR_NOT_FOUND");
    await expectCode(store().setLegalHold("missing", true), "ERR_NOT_FOUND");
    await expectCode(store().extendRetention("missing", new Date(Date.now() + 60_000)), "ERR_NOT_FOUND");
    await expectCode(store().delete("missing"), "ERR_NOT_FOUND");
  });

  it("refuses hostile keys and options with a coded error and stores nothing", async () => {
    for (const key of [
      "../escape",
      "/abs",
      "a//b",
      "a/./b",
      "",
      ".hidden",
      "a\\b",
      "a\u0000b",
      "é",
      "a/",
      "x".repeat(129),
    ]) {
      await expectCode(
        store()
          .create(key, chunks("x"))
          .catch((e: unknown) => Promise.reject(e)),
        codeFor(key),
      );
    }
    await expectCode(store().create("ok", chunks("x"), { expectedSha256: "ABC" }), "ERR_INVALID_ARGUMENT");
    await expectCode(
      store().create("ok", chunks("x"), { retainUntil: new Date(Number.NaN) }),
      "ERR_INVALID_ARGUMENT",
    );
    await expectCode(
      store().create("ok", chunks("x"), { metadata: { "bad name": "v" } }),
      "ERR_INVALID_ARGUMENT",
    );
    await expectCode(store().create("ok", "not a stream" as never), "ERR_INVALID_ARGUMENT");
    await expectCode(
      store().create("ok", chunks("x"), { legalHold: "yes" as never }),
      "ERR_INVALID_ARGUMENT",
    );
    expect(await collectKeys(store())).toEqual([]);
  });

  it("lists objects in key order, filtered by a plain string prefix", async () => {
    for (const key of ["b/2", "a-c", "a/b/c", "a/b", "a", "b/10", "c"])
      await store().create(key, chunks(key));
    expect(await collectKeys(store())).toEqual(["a", "a-c", "a/b", "a/b/c", "b/10", "b/2", "c"]);
    expect(await collectKeys(store(), "a/")).toEqual(["a/b", "a/b/c"]);
    expect(await collectKeys(store(), "b/1")).toEqual(["b/10"]);
    expect(await collectKeys(store(), "zz")).toEqual([]);
    const [first] = await collect(store().list({ prefix: "a-" }));
    expect(first).toMatchObject({ key: "a-c", size: 3, sha256: sha256("a-c") });
    expect(await collect(store().listKeys())).toEqual(await collectKeys(store()));
    expect(await collect(store().listKeys({ prefix: "b/1" }))).toEqual(["b/10"]);
    await expectCode(collect(store().listKeys({ prefix: "a\\b" })), "ERR_INVALID_ARGUMENT");
  });
}

function registerCreateOnlyTests(store: () => EvidenceStore): void {
  it("is create-only, and refuses before reading the second body", async () => {
    await store().create("once", chunks("first"));
    const second = watchedBody("second");
    await expectCode(store().create("once", second.body), "ERR_ALREADY_EXISTS");
    expect(second.pulled()).toBe(false);
    expect((await readAll(await store().read("once"))).toString()).toBe("first");
  });

  it("lets exactly one of many concurrent creates of one key win", async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => `writer-${i}-`.repeat(20_000));
    const results = await Promise.allSettled(
      bodies.map((b) => store().create("race", chunks(b.slice(0, 50_000), b.slice(50_000)))),
    );
    const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") await expectCode(Promise.reject(r.reason), "ERR_ALREADY_EXISTS");
    const winner = winners[0] ?? -1;
    expect((await readAll(await store().read("race"))).toString()).toBe(bodies[winner]);
  });

  it("stores nothing when the body does not hash to expectedSha256", async () => {
    await expectCode(
      store().create("bad", chunks("tampered"), { expectedSha256: sha256("original") }),
      "ERR_INTEGRITY_MISMATCH",
    );
    await expectCode(store().head("bad"), "ERR_NOT_FOUND");
    const ok = await store().create("bad", chunks("original"), { expectedSha256: sha256("original") });
    expect(ok.sha256).toBe(sha256("original"));
  });
}

function codeFor(key: string): "ERR_UNSAFE_PATH" | "ERR_INVALID_ARGUMENT" {
  return ["../escape", "/abs", "a//b", "a/./b", "", "a\\b", "a\u0000b", "a/"].includes(key)
    ? "ERR_UNSAFE_PATH"
    : "ERR_INVALID_ARGUMENT";
}

async function collectKeys(store: EvidenceStore, prefix?: string): Promise<string[]> {
  return (await collect(store.list(prefix === undefined ? {} : { prefix }))).map((o) => o.key);
}
