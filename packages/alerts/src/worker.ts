import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@custody/core";
import { type BackoffOptions, backoffDelayMs, isPowerOfTwo } from "./backoff.js";
import { BoundedQueue } from "./queue.js";
import { emptyStats, type SinkStats } from "./sink.js";

export type AttemptResult =
  | { kind: "delivered" }
  /** Worth trying again after a pause: the receiver is down, slow, or answered 5xx/429. */
  | { kind: "retry"; error: string }
  /** Trying again will not help (the receiver refused the alert): give up on this one. */
  | { kind: "rejected"; error: string };

export interface WorkerOptions<T> extends BackoffOptions {
  name: string;
  maxQueue: number;
  maxAttempts: number;
  logger: Logger;
  random: () => number;
  /** When the queue is full, the oldest item of the lowest rank is dropped. */
  rank(item: T): number;
  attempt(item: T, signal: AbortSignal): Promise<AttemptResult>;
}

/**
 * Delivers queued items one at a time, in order, with retries and back-off, off the caller's path.
 * `enqueue` never blocks and never throws; `close` bounds how long anything waits.
 */
export class DeliveryWorker<T> {
  readonly #options: WorkerOptions<T>;
  readonly #queue: BoundedQueue<T>;
  readonly #stats: SinkStats = emptyStats();
  readonly #stop = new AbortController();
  #current: T | undefined;
  #pumping: Promise<void> | undefined;
  #closed = false;

  constructor(options: WorkerOptions<T>) {
    this.#options = options;
    this.#queue = new BoundedQueue(options.maxQueue, options.rank);
  }

  enqueue(item: T): void {
    if (this.#closed) {
      this.drop("the sink is closed");
      return;
    }
    if (this.#queue.push(item) !== undefined)
      this.drop("the queue is full: the oldest alert of the lowest severity was dropped");
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined;
    });
  }

  /** Counts alerts dropped unsent; logs the 1st, 2nd, 4th... so a flood is reported, not repeated. */
  drop(why: string, count = 1): void {
    for (let i = 0; i < count; i += 1) {
      this.#stats.dropped += 1;
      if (isPowerOfTwo(this.#stats.dropped)) {
        this.#options.logger.warn({ sink: this.#options.name, dropped: this.#stats.dropped }, why);
      }
    }
  }

  async flush(): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping;
  }

  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    const timer = new AbortController();
    await Promise.race([this.flush(), sleep(timeoutMs, undefined, { signal: timer.signal }).catch(() => {})]);
    timer.abort();
    this.#stop.abort();
    await this.flush();
    this.drop("the sink closed before these alerts were delivered", this.#queue.drain().length);
  }

  stats(): SinkStats {
    const queued = this.#queue.length + (this.#current === undefined ? 0 : 1);
    return { ...this.#stats, queued };
  }

  async #pump(): Promise<void> {
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
      if (this.#stop.signal.aborted) {
        this.drop("the sink closed before these alerts were delivered", 1 + this.#queue.drain().length);
        return;
      }
      this.#current = item;
      await this.#deliver(item);
      this.#current = undefined;
    }
  }

  async #deliver(item: T): Promise<void> {
    const { maxAttempts, logger, name } = this.#options;
    for (let attempt = 1; ; attempt += 1) {
      const result = await this.#attempt(item);
      if (result.kind === "delivered") {
        this.#stats.delivered += 1;
        return;
      }
      this.#stats.lastError = result.error;
      if (result.kind === "rejected" || attempt >= maxAttempts || this.#stop.signal.aborted) {
        this.#stats.failed += 1;
        logger.warn({ sink: name, attempts: attempt, error: result.error }, "alert not delivered");
        return;
      }
      this.#stats.retries += 1;
      const delayMs = backoffDelayMs(attempt, this.#options, this.#options.random);
      await sleep(delayMs, undefined, { signal: this.#stop.signal }).catch(() => {});
    }
  }

  // An attempt that throws is a bug in the sink, not a reason to stop the worker.
  async #attempt(item: T): Promise<AttemptResult> {
    try {
      return await this.#options.attempt(item, this.#stop.signal);
    } catch (error) {
      return { kind: "retry", error: error instanceof Error ? error.message : String(error) };
    }
  }
}
