import type { Alert, AlertSink } from "@custody/alerts";
import { createAlertEngine, createLogSink, DEFAULT_RULES } from "@custody/alerts";
import type { AuditRecord } from "@custody/audit";
import { fixedClock, type Logger } from "@custody/core";
import { describe, expect, it } from "vitest";
import { sampleRecord } from "./fixtures.js";
import { memorySink } from "./memory-sink.js";

const burstRule = {
  id: "burst",
  kind: "burst",
  severity: "high",
  description: "denials",
  when: [{ outcome: ["deny"] }],
  threshold: 3,
  windowMs: 10_000,
} as const;

const at = (second: number, fields: Partial<AuditRecord> = {}) =>
  sampleRecord({
    outcome: "deny",
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    ...fields,
  });

function lines(): Logger & { warns: { object: object; message?: string }[]; errors: object[] } {
  const warns: { object: object; message?: string }[] = [];
  const errors: object[] = [];
  return {
    warns,
    errors,
    debug: () => {},
    info: () => {},
    warn: (object, message) => void warns.push(message === undefined ? { object } : { object, message }),
    error: (object) => void errors.push(object),
  };
}

describe("alert engine: hostile cases first", () => {
  it("never throws into the caller: a sink that throws, a record that is not one, a closed engine", async () => {
    const broken: AlertSink = {
      name: "broken",
      send: () => {
        throw new Error("sink bug");
      },
      flush: async () => {},
      close: async () => {},
      stats: () => ({ queued: 0, delivered: 0, dropped: 0, failed: 0, retries: 0 }),
    };
    const good = memorySink();
    const logger = lines();
    const engine = createAlertEngine({ sinks: [broken, good], logger });
    const throwing = createAlertEngine({
      sinks: [broken],
      logger: {
        ...logger,
        error: () => {
          throw new Error("logger bug");
        },
      },
    });
    expect(() => throwing.observe(sampleRecord({ action: "evidence.purged" }))).not.toThrow();
    expect(() => engine.observe(sampleRecord({ action: "evidence.purged" }))).not.toThrow();
    expect(good.alerts.map((a) => a.rule)).toEqual(["evidence-purged"]);
    expect(() => engine.observe(null as unknown as AuditRecord)).not.toThrow();
    expect(() => engine.observe({ seq: 1 } as unknown as AuditRecord)).not.toThrow();
    // The sink's throw, and the null record in every rule; the partial record matched nothing.
    expect(engine.stats().internalErrors).toBe(1 + DEFAULT_RULES.length);
    expect(logger.errors).toHaveLength(1 + DEFAULT_RULES.length);
    await engine.close();
    engine.observe(sampleRecord({ action: "evidence.purged" }));
    expect(good.alerts).toHaveLength(1);
  });

  it("forgets the least recently seen actors beyond maxActors, and counts them", () => {
    const sink = memorySink();
    const engine = createAlertEngine({ sinks: [sink], rules: [{ ...burstRule, maxActors: 2 }] });
    engine.observe(at(1, { actor: "a" }));
    engine.observe(at(1, { actor: "a" }));
    engine.observe(at(2, { actor: "b" }));
    engine.observe(at(3, { actor: "c" })); // "a" is forgotten: it was seen least recently
    engine.observe(at(4, { actor: "a" }));
    expect(sink.alerts).toEqual([]);
    expect(engine.stats().evictedActors).toBe(2); // "a", then "b" when "a" came back
    engine.observe(at(5, { actor: "c" }));
    engine.observe(at(6, { actor: "c" }));
    expect(sink.alerts.map((a) => a.record.actor)).toEqual(["c"]);
  });

  it("a burst is a sliding window of record times, per actor, with one alert per actor per window", () => {
    const sink = memorySink();
    const engine = createAlertEngine({ sinks: [sink], rules: [burstRule] });
    engine.observe(at(0));
    engine.observe(at(5));
    engine.observe(at(11)); // the first has left the 10 s window
    expect(sink.alerts).toEqual([]);
    engine.observe(at(12, { actor: "someone else" }));
    engine.observe(at(13)); // 5, 11, 13
    expect(sink.alerts).toHaveLength(1);
    expect(sink.alerts[0]?.burst).toEqual({
      count: 3,
      windowMs: 10_000,
      firstSeq: (sink.alerts[0]?.record.seq ?? 0) - 3,
    });
    for (const second of [14, 15, 16, 20, 22]) engine.observe(at(second));
    expect(sink.alerts).toHaveLength(1); // quiet until 23
    engine.observe(at(23)); // 16, 20, 22 and 23 are within the window: the next alert
    expect(sink.alerts).toHaveLength(2);
    expect(sink.alerts[1]?.summary).toContain("3 records by alice within 10 s");
  });
});

describe("alert engine", () => {
  it("runs the default rules when given none, and dates alerts with its clock", () => {
    const sink = memorySink();
    const engine = createAlertEngine({ sinks: [sink], clock: fixedClock("2026-12-06T05:00:00Z") });
    engine.observe(sampleRecord({ action: "evidence.hold-released", outcome: "allow" }));
    engine.observe(sampleRecord({ action: "evidence.read", outcome: "allow" }));
    const [alert] = sink.alerts as [Alert];
    expect(alert).toMatchObject({
      format: "custody.alert/v1",
      rule: "legal-hold-released",
      severity: "high",
      time: "2026-12-06T05:00:00.000Z",
    });
    expect(alert.summary).toContain("a legal hold was released");
    expect(engine.stats()).toMatchObject({ records: 2, alerts: 1, byRule: { "legal-hold-released": 1 } });
    expect(engine.stats().sinks).toEqual([
      { name: "memory", queued: 0, delivered: 1, dropped: 0, failed: 0, retries: 0 },
    ]);
    expect(DEFAULT_RULES.map((r) => r.id)).toHaveLength(10);
  });

  it("matches prefixes, reason codes and nested details, never through a prototype", () => {
    const sink = memorySink();
    const engine = createAlertEngine({
      sinks: [sink],
      rules: [
        {
          id: "contractor-reads",
          kind: "match",
          severity: "low",
          description: "a contractor read evidence",
          when: [{ actor: ["contractor-*"], action: ["evidence.read"], details: { "case.id": "A" } }],
        },
        {
          id: "proto",
          kind: "match",
          severity: "low",
          description: "never",
          when: [{ details: { "toString.name": "toString" } }],
        },
      ],
    });
    engine.observe(sampleRecord({ actor: "contractor-7", details: { case: { id: "A" } } }));
    engine.observe(sampleRecord({ actor: "contractor-7", details: { case: { id: "B" } } }));
    engine.observe(sampleRecord({ actor: "alice", details: { case: { id: "A" } } }));
    engine.observe(sampleRecord({ actor: "contractor-8", details: {} }));
    expect(sink.alerts.map((a) => a.rule)).toEqual(["contractor-reads"]);
  });

  it("the pino sink writes one warn line per alert", () => {
    const logger = lines();
    const engine = createAlertEngine({ sinks: [createLogSink(logger)] });
    engine.observe(sampleRecord({ action: "evidence.purged" }));
    engine.observe(sampleRecord({ outcome: "error", reason: "ERR_INTEGRITY_MISMATCH: bytes changed" }));
    expect(logger.warns.map((w) => w.message?.split(":")[0])).toEqual([
      "custody alert evidence-purged (high)",
      "custody alert integrity-mismatch (critical)",
    ]);
    expect(logger.warns[1]?.object).toMatchObject({ alert: { rule: "integrity-mismatch" } });
  });
});
