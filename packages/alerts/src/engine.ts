import type { AuditRecord } from "@custody/audit";
import { type Clock, CustodyError, type Logger, silentLogger, systemClock } from "@custody/core";
import type { z } from "zod";
import { type Alert, clipText, makeAlert, recordRef } from "./alert.js";
import { BurstTracker } from "./burst.js";
import { DEFAULT_RULES } from "./default-rules.js";
import { anyMatches } from "./matcher.js";
import { parseOptions } from "./options.js";
import { type AlertRule, alertRuleSchema } from "./rule-schema.js";
import type { AlertSink, SinkStats } from "./sink.js";

export type AlertRuleInput = z.input<typeof alertRuleSchema>;

export interface AlertEngineOptions {
  /** The rules to run; DEFAULT_RULES when absent. */
  rules?: readonly AlertRuleInput[];
  sinks: readonly AlertSink[];
  clock?: Clock;
  logger?: Logger;
}

export interface AlertEngineStats {
  records: number;
  alerts: number;
  byRule: Record<string, number>;
  /** Actors a burst rule forgot to stay within its `maxActors`. */
  evictedActors: number;
  /** Exceptions caught inside `observe` (a bug: reported, never thrown into the vault). */
  internalErrors: number;
  sinks: (SinkStats & { name: string })[];
}

export interface AlertEngine {
  /** Runs every rule on one record and queues its alerts. Synchronous; never throws, never waits. */
  observe(record: AuditRecord): void;
  flush(): Promise<void>;
  /** Stops observing, then closes every sink (each waits up to `timeoutMs` for its queue). */
  close(options?: { timeoutMs?: number }): Promise<void>;
  stats(): AlertEngineStats;
}

interface RuleRunner {
  rule: AlertRule;
  burst?: BurstTracker;
}

export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const runners = parseRules(options.rules ?? DEFAULT_RULES).map((rule) =>
    rule.kind === "burst" ? { rule, burst: new BurstTracker(rule) } : { rule },
  );
  const sinks = [...options.sinks];
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const counts = { records: 0, alerts: 0, internalErrors: 0 };
  const byRule: Record<string, number> = {};
  let closed = false;

  // A bug here (or in a logger) is counted and reported, never thrown into the vault's append.
  const fault = (error: unknown, context: object, message: string) => {
    counts.internalErrors += 1;
    try {
      logger.error({ err: error, ...context }, message);
    } catch {}
  };
  const raise = (alert: Alert) => {
    counts.alerts += 1;
    byRule[alert.rule] = (byRule[alert.rule] ?? 0) + 1;
    for (const sink of sinks) {
      try {
        sink.send(alert);
      } catch (error) {
        fault(error, { sink: sink.name }, "an alert sink threw in send");
      }
    }
  };

  return {
    observe(record) {
      if (closed) return;
      counts.records += 1;
      // Each rule on its own: one that fails does not keep the others from seeing the record.
      for (const runner of runners) {
        try {
          const alert = evaluate(runner, record, clock);
          if (alert !== undefined) raise(alert);
        } catch (error) {
          fault(error, { rule: runner.rule.id, seq: record?.seq }, "an alert rule failed on a record");
        }
      }
    },
    async flush() {
      await Promise.all(sinks.map((sink) => sink.flush()));
    },
    async close(closeOptions) {
      closed = true;
      await Promise.all(sinks.map((sink) => sink.close(closeOptions)));
    },
    stats: () => ({
      ...counts,
      byRule: { ...byRule },
      evictedActors: runners.reduce((sum, r) => sum + (r.burst?.evictedActors ?? 0), 0),
      sinks: sinks.map((sink) => ({ name: sink.name, ...sink.stats() })),
    }),
  };
}

function evaluate(runner: RuleRunner, record: AuditRecord, clock: Clock): Alert | undefined {
  const { rule } = runner;
  if (!anyMatches(record, rule.when)) return undefined;
  const base = {
    rule: rule.id,
    severity: rule.severity,
    time: clock.now().toISOString(),
    record: recordRef(record),
  };
  if (runner.burst === undefined) {
    return makeAlert({ ...base, summary: `${rule.description}: ${describe(record)}` });
  }
  const hit = runner.burst.add(record);
  if (hit === undefined || rule.kind !== "burst") return undefined;
  const seconds = Math.round(rule.windowMs / 1000);
  return makeAlert({
    ...base,
    summary: `${rule.description}: ${hit.count} records by ${record.actor} within ${seconds} s (last: ${record.action} ${record.target}, seq ${record.seq})`,
    burst: { count: hit.count, windowMs: rule.windowMs, firstSeq: hit.firstSeq },
  });
}

function describe(record: AuditRecord): string {
  return `${record.actor} ${record.action} ${record.target} -> ${record.outcome} (seq ${record.seq}): ${clipText(record.reason, 200)}`;
}

/** Validates rules at the edge: each against the schema, and ids unique. */
export function parseRules(rules: readonly AlertRuleInput[]): AlertRule[] {
  const parsed = rules.map((rule, index) => parseOptions(alertRuleSchema, rule, `alert rule ${index}`));
  const seen = new Set<string>();
  for (const rule of parsed) {
    if (seen.has(rule.id)) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `two alert rules have the id '${rule.id}'`);
    }
    seen.add(rule.id);
  }
  return parsed;
}
