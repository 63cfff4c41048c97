import type { Alert } from "./alert.js";

/** What a sink has done so far; `queued` is what waits now, the others count since it was made. */
export interface SinkStats {
  queued: number;
  delivered: number;
  /** Dropped unsent: the queue was full (lowest severity, then oldest, first), the sink closed, or too big. */
  dropped: number;
  /** Given up on: refused by the receiver, or still undelivered after every attempt. */
  failed: number;
  retries: number;
  lastError?: string;
}

/**
 * Where alerts go. `send` only queues: it is synchronous, never throws and never waits for the
 * network, because it runs inside the vault's audit append.
 */
export interface AlertSink {
  readonly name: string;
  send(alert: Alert): void;
  /** Resolves once every alert queued so far is delivered or given up on. */
  flush(): Promise<void>;
  /** Stops accepting alerts, waits up to `timeoutMs` for the queue, then drops what is left. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  stats(): SinkStats;
}

export function emptyStats(): SinkStats {
  return { queued: 0, delivered: 0, dropped: 0, failed: 0, retries: 0 };
}
