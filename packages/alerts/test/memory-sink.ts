import type { Alert, AlertSink } from "@custody/alerts";

/** A sink that keeps alerts in memory and lets a test wait for the next one of a rule. */
export function memorySink(): AlertSink & { alerts: Alert[]; next(rule: string): Promise<Alert> } {
  const alerts: Alert[] = [];
  const waiting: { rule: string; resolve: (alert: Alert) => void }[] = [];
  return {
    name: "memory",
    alerts,
    send(alert) {
      alerts.push(alert);
      for (const w of waiting.filter((w) => w.rule === alert.rule)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(alert);
      }
    },
    next: (rule) => new Promise((resolve) => waiting.push({ rule, resolve })),
    flush: async () => {},
    close: async () => {},
    stats: () => ({ queued: 0, delivered: alerts.length, dropped: 0, failed: 0, retries: 0 }),
  };
}
