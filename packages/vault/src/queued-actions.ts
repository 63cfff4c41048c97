import type { AuditRecord } from "@custody/audit";
import { z } from "zod";
import { DEVICE_ID_PATTERN } from "./device-facts.js";

/**
 * The live-response actions the signed log holds as queued and not yet ended: what a server runs when
 * it starts again, or another replica adopts. The log is the only source: an action is open from its
 * allowed `action.queued` decision until its `action.ended` record, and claimed by the runner (one
 * server process) that recorded its allowed `action.started`, until `action.deferred` hands it back.
 */
export interface LoggedAction {
  readonly id: string;
  /** The person who queued it (the decision's actor) and the serial of the certificate they used. */
  readonly actor: string;
  readonly actorSerial: string;
  readonly deviceId: string;
  readonly caseId: string;
  readonly kind: "command" | "batch";
  readonly lines: readonly string[];
  readonly queuedAt: string;
  readonly expiresAt: string;
  /** The server process running it, when one claimed it. */
  readonly runner?: string;
}

export const ACTION_RECORD = {
  queued: "action.queued",
  started: "action.started",
  deferred: "action.deferred",
  ended: "action.ended",
} as const;

const queuedSchema = z.object({
  actionId: z.string().regex(/^A-[0-9a-f-]{36}$/),
  caseId: z.string().min(1).max(100),
  deviceId: z.string().regex(DEVICE_ID_PATTERN),
  kind: z.enum(["command", "batch"]),
  lines: z.array(z.string().max(65_536)).min(1).max(64),
  expiresAt: z.iso.datetime(),
  actorSerial: z.string().regex(/^[0-9A-F]+$/),
});

const laterSchema = z.object({ actionId: z.string(), runner: z.string().max(100).optional() });

/** The open actions, by id, as the log states them (part of the Ledger). */
export class QueuedActionLedger {
  readonly #open = new Map<string, LoggedAction>();

  apply(record: AuditRecord): void {
    if (record.action === ACTION_RECORD.queued) {
      const parsed = queuedSchema.safeParse(record.details);
      if (record.outcome !== "allow" || !parsed.success) return;
      const { actionId, actorSerial, ...rest } = parsed.data;
      this.#open.set(actionId, {
        id: actionId,
        actor: record.actor,
        actorSerial,
        ...rest,
        queuedAt: record.time,
      });
      return;
    }
    const later = laterSchema.safeParse(record.details);
    const action = later.success ? this.#open.get(later.data.actionId) : undefined;
    if (action === undefined || !later.success) return;
    if (record.action === ACTION_RECORD.ended) this.#open.delete(action.id);
    else if (record.action === ACTION_RECORD.started && record.outcome === "allow")
      this.#open.set(action.id, { ...action, runner: later.data.runner ?? "unknown" });
    else if (record.action === ACTION_RECORD.deferred) {
      const { runner: _released, ...unclaimed } = action;
      this.#open.set(action.id, unclaimed);
    }
  }

  /** The open actions a snapshot kept (a new ledger's, before any record). */
  restore(actions: readonly LoggedAction[]): void {
    for (const action of actions) this.#open.set(action.id, action);
  }

  open(): LoggedAction[] {
    return [...this.#open.values()];
  }

  get(id: string): LoggedAction | undefined {
    return this.#open.get(id);
  }
}

export function isActionRecord(action: string): boolean {
  return action.startsWith("action.");
}
