import type { Logger } from "@custody/core";
import type { Alert } from "./alert.js";
import { type AlertSink, emptyStats } from "./sink.js";

/** One pino `warn` line per alert, `{ alert }` plus a readable message. */
export function createLogSink(logger: Logger): AlertSink {
  const stats = emptyStats();
  return {
    name: "log",
    send(alert: Alert) {
      logger.warn({ alert }, `custody alert ${alert.rule} (${alert.severity}): ${alert.summary}`);
      stats.delivered += 1;
    },
    flush: async () => {},
    close: async () => {},
    stats: () => ({ ...stats }),
  };
}
