import type { AuditRecord } from "@custody/audit";
import type { BurstRule } from "./rule-schema.js";

export interface BurstHit {
  count: number;
  firstSeq: number;
}

/**
 * Counts one rule's matching records per actor over a sliding window of record times. Memory is
 * bounded: at most `threshold` entries per actor and `maxActors` actors (the least recently seen actor
 * is forgotten first, and counted). After firing, an actor's window starts again, so a sustained attack
 * raises one alert per `threshold` records instead of one per record.
 */
export class BurstTracker {
  readonly #rule: BurstRule;
  readonly #recent = new Map<string, { timeMs: number; seq: number }[]>();
  #evicted = 0;

  constructor(rule: BurstRule) {
    this.#rule = rule;
  }

  get evictedActors(): number {
    return this.#evicted;
  }

  get trackedActors(): number {
    return this.#recent.size;
  }

  /** Adds a matching record; returns the burst when this record completes one. */
  add(record: AuditRecord): BurstHit | undefined {
    const timeMs = Date.parse(record.time);
    const since = timeMs - this.#rule.windowMs;
    const kept = (this.#recent.get(record.actor) ?? []).filter((e) => e.timeMs > since);
    kept.push({ timeMs, seq: record.seq });
    this.#recent.delete(record.actor);
    if (kept.length >= this.#rule.threshold) {
      return { count: kept.length, firstSeq: kept[0]?.seq ?? record.seq };
    }
    this.#recent.set(record.actor, kept);
    this.#evictOldest();
    return undefined;
  }

  #evictOldest(): void {
    while (this.#recent.size > this.#rule.maxActors) {
      const oldest = this.#recent.keys().next();
      if (oldest.done === true) return;
      this.#recent.delete(oldest.value);
      this.#evicted += 1;
    }
  }
}
