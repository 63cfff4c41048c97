import type { AuditRecord } from "@custody/audit";
import type { BurstRule } from "./rule-schema.js";

export interface BurstHit {
  count: number;
  firstSeq: number;
}

interface ActorWindow {
  /** The actor's latest matching records within the window, at most `threshold` of them. */
  recent: { timeMs: number; seq: number }[];
  /** No second alert for this actor before this time: one alert per actor per window. */
  quietUntilMs: number;
}

/**
 * Counts one rule's matching records per actor over a sliding window of record times, and raises at
 * most one alert per actor per window (a sustained attack is one alert a window, not one per record).
 * Memory is bounded: `threshold` entries per actor and `maxActors` actors; the least recently seen
 * actor is forgotten first, and counted.
 */
export class BurstTracker {
  readonly #rule: BurstRule;
  readonly #actors = new Map<string, ActorWindow>();
  #evicted = 0;

  constructor(rule: BurstRule) {
    this.#rule = rule;
  }

  get evictedActors(): number {
    return this.#evicted;
  }

  /** Adds a matching record; returns the burst when this record completes one. */
  add(record: AuditRecord): BurstHit | undefined {
    const { threshold, windowMs } = this.#rule;
    const timeMs = Date.parse(record.time);
    const window = this.#actors.get(record.actor) ?? { recent: [], quietUntilMs: Number.NEGATIVE_INFINITY };
    window.recent = window.recent.filter((e) => e.timeMs > timeMs - windowMs);
    window.recent.push({ timeMs, seq: record.seq });
    if (window.recent.length > threshold) window.recent.shift();
    // Re-inserted so that Map order is least recently seen first.
    this.#actors.delete(record.actor);
    this.#actors.set(record.actor, window);
    this.#evictOldest();
    if (window.recent.length < threshold || timeMs < window.quietUntilMs) return undefined;
    const hit = { count: window.recent.length, firstSeq: window.recent[0]?.seq ?? record.seq };
    window.recent = [];
    window.quietUntilMs = timeMs + windowMs;
    return hit;
  }

  #evictOldest(): void {
    while (this.#actors.size > this.#rule.maxActors) {
      const oldest = this.#actors.keys().next();
      if (oldest.done === true) return;
      this.#actors.delete(oldest.value);
      this.#evicted += 1;
    }
  }
}
