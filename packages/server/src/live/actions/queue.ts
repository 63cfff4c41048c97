import { randomUUID } from "node:crypto";
import { type Action, scopeIdSchema } from "@custody/access";
import type { ActionState, ActionView } from "@custody/api";
import { CustodyError, isCustodyError, type JsonValue } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { DeviceHub } from "../hub.js";
import { liveResponseOff } from "../sessions/authorize.js";
import type { LiveSessions } from "../sessions/service.js";
import { errorOf } from "../sessions/tracked.js";
import { adoptLoggedAction } from "./adopt.js";
import { runAction } from "./run.js";
import { isExpired, isFinal, markRestNotRun, stepViews, transition } from "./state.js";
import { type PlannedStep, planSteps } from "./steps.js";

const DAY = 24 * 3_600_000;

/** How long actions wait for their device, and how often the queue looks at it. */
export interface ActionQueueLimits {
  /** An action's wait when it names none (3 days). */
  defaultTtlMs: number;
  /** The longest wait an action may ask for (30 days). */
  maxTtlMs: number;
  /** How often pending actions are checked for their device and their expiry (1 s). */
  pollMs: number;
  /** Settled actions kept for `list` and `show` (the oldest forgotten first; their facts stay in the log). */
  keepSettled: number;
}

export const DEFAULT_ACTION_LIMITS: ActionQueueLimits = {
  defaultTtlMs: 3 * DAY,
  maxTtlMs: 30 * DAY,
  pollMs: 1_000,
  keepSettled: 1_000,
};

export interface ActionQueueOptions {
  vault: Vault;
  hub: DeviceHub;
  live: LiveSessions;
  isLiveResponseOn(): Promise<boolean>;
  limits?: Partial<ActionQueueLimits>;
}

/** An action as the queue holds it: its view, the identity it runs under, and a cancel in flight. */
export interface QueuedAction {
  view: ActionView;
  principal: AuthenticatedPrincipal;
  /** The grants it needs, on its device and its case (each step's registry action). */
  needs: readonly Action[];
  /** False until `action.queued` is in the log: an action not yet authorized never runs. */
  authorized: boolean;
  cancel?: { by: string; reason: string };
  /** The command of the step running now, for a cancel. */
  currentCmdId?: string;
}

export interface QueueRequest {
  deviceId: string;
  caseId: string;
  lines: readonly string[];
  kind: "command" | "batch";
  expiresInMs?: number;
}

/**
 * The offline action queue: actions authorized and recorded when queued, run in order per device when
 * it is connected (under the analyst's identity, authorized again at the start), expired when their
 * device does not come back in time. Every state change is a fact of the signed log, bound to the case,
 * and the log is the queue's memory: a server that starts again takes up the actions it left pending.
 */
export class ActionQueue {
  readonly limits: ActionQueueLimits;
  readonly #options: ActionQueueOptions;
  readonly #actions = new Map<string, QueuedAction>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #timer: NodeJS.Timeout;
  /** This server process, named in each `action.started` it records: its claim on the action. */
  readonly #runner = `R-${randomUUID()}`;
  #closed = false;

  constructor(options: ActionQueueOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_ACTION_LIMITS, ...options.limits };
    this.#adoptFromLog();
    this.#timer = setInterval(() => this.#tick(), this.limits.pollMs);
    this.#timer.unref();
  }

  /** Parses, checks and authorizes the action (`action.queued`, allow or deny), then queues it. */
  async queue(principal: AuthenticatedPrincipal, request: QueueRequest): Promise<ActionView> {
    assertId(request.deviceId, "device");
    assertId(request.caseId, "case");
    const steps = planSteps(request.lines, request.kind);
    const ttl = request.expiresInMs ?? this.limits.defaultTtlMs;
    if (ttl > this.limits.maxTtlMs) {
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        `an action waits at most ${this.limits.maxTtlMs} ms for its device, not ${ttl}`,
      );
    }
    const now = Date.now();
    const action: QueuedAction = {
      principal,
      needs: [...new Set(steps.map((step) => step.spec.action))],
      authorized: false,
      view: newView(principal, request, steps, now, ttl),
    };
    // checked and reserved with no await in between: two batches sent at once cannot both pass
    const refusal = this.#deviceRefusal(request) ?? this.#batchRefusal(request);
    if (refusal === undefined) this.#actions.set(action.view.id, action);
    try {
      const off = (await this.#options.isLiveResponseOn()) ? undefined : liveResponseOff();
      await this.#decide(action, "action.queued", refusal ?? off);
    } catch (error) {
      this.#actions.delete(action.view.id);
      throw error;
    }
    action.authorized = true;
    queueMicrotask(() => this.#tick());
    return action.view;
  }

  /** The caller's actions, oldest first. */
  list(principal: AuthenticatedPrincipal, filter: { device?: string; case?: string; state?: ActionState }) {
    return [...this.#actions.values()]
      .filter((a) => a.authorized && a.principal.id === principal.id)
      .map((a) => a.view)
      .filter((v) => filter.device === undefined || v.deviceId === filter.device)
      .filter((v) => filter.case === undefined || v.caseId === filter.case)
      .filter((v) => filter.state === undefined || v.state === filter.state);
  }

  /** The caller's own action; another's is not found, as if it did not exist. */
  get(principal: AuthenticatedPrincipal, id: string): QueuedAction {
    const action = this.#actions.get(id);
    if (action === undefined || !action.authorized || action.principal.id !== principal.id) {
      throw new CustodyError("ERR_NOT_FOUND", `no action ${id}`);
    }
    return action;
  }

  /** A pending action never runs; a running one has its current command cancelled and stops there. */
  async cancel(principal: AuthenticatedPrincipal, id: string, reason: string): Promise<ActionView> {
    const action = this.get(principal, id);
    if (isFinal(action.view.state) || action.cancel !== undefined) return action.view;
    action.cancel = { by: principal.id, reason };
    action.view.cancelledBy = principal.id;
    if (action.view.state === "pending") {
      await this.end(action, "cancelled", { code: "ERR_ABORTED", message: `cancelled: ${reason}` });
      return action.view;
    }
    if (action.currentCmdId !== undefined) {
      await this.#options.live.commands
        .cancel(action.principal, action.currentCmdId, reason)
        .catch(() => undefined);
    }
    await this.#running.get(action.view.deviceId);
    return action.view;
  }

  /**
   * At shutdown: a pending action stays queued (the log holds it; the next start takes it up); a running
   * one has its step stopped on the device and ends cancelled (reason server-restart), recorded: it is
   * never resumed half-way.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const running = [...this.#actions.values()].filter((a) => a.view.state === "in-progress");
    for (const action of running) action.cancel = { by: "server", reason: "server-restart" };
    await Promise.allSettled(
      running
        .filter((a) => a.currentCmdId !== undefined)
        .map((a) =>
          this.#options.live.commands.cancel(a.principal, a.currentCmdId as string, "server-restart"),
        ),
    );
    await Promise.allSettled([...this.#running.values()]);
    await Promise.allSettled(
      running
        .filter((a) => !isFinal(a.view.state))
        .map((a) => this.end(a, "cancelled", { code: "ERR_ABORTED", message: "the server stopped" })),
    );
  }

  /** Settles an action once: its state, its end time, the `action.ended` fact. */
  async end(
    action: QueuedAction,
    state: ActionState,
    error?: { code: string; message: string },
  ): Promise<void> {
    if (isFinal(action.view.state)) return;
    transition(action.view, state);
    action.view.endedAt = new Date().toISOString();
    if (error !== undefined) action.view.error = { code: error.code, message: error.message.slice(0, 2000) };
    markRestNotRun(action.view.steps);
    await this.record(action, "action.ended", state === "succeeded" ? "allow" : "error", `${state}`, {
      state,
      ...(error === undefined ? {} : { error: error.code }),
      ...(action.cancel === undefined ? {} : { cancelledBy: action.cancel.by }),
      ...(action.view.transcriptItemId === undefined
        ? {}
        : { transcriptItemId: action.view.transcriptItemId }),
    }).catch(() => undefined);
    this.#forgetOldSettled();
  }

  /** One fact of the action in the signed log, bound to its case and device. */
  record(
    action: QueuedAction,
    auditAction: string,
    outcome: "allow" | "error",
    reason: string,
    details: Record<string, JsonValue>,
  ) {
    const { view } = action;
    return this.#options.vault.recordLiveOutcome(action.principal, {
      action: auditAction,
      target: `device:${view.deviceId}`,
      outcome,
      reason: `action ${view.id}: ${reason}`,
      details: { actionId: view.id, caseId: view.caseId, deviceId: view.deviceId, ...details },
    });
  }

  /** A decision (allow or deny) about the whole action, recorded before it returns; a denial throws. */
  async #decide(
    action: QueuedAction,
    auditAction: string,
    refusal: CustodyError | undefined,
    claim?: { actionId: string; runner: string },
  ) {
    const { view } = action;
    return this.#options.vault.decideLive(action.principal, {
      auditAction,
      checks: action.needs.flatMap((needs) => [
        { action: needs, resource: { kind: "device", deviceId: view.deviceId } },
        { action: needs, resource: { kind: "case", caseId: view.caseId } },
      ]),
      target: `device:${view.deviceId}`,
      details: {
        actionId: view.id,
        caseId: view.caseId,
        deviceId: view.deviceId,
        kind: view.kind,
        lines: view.steps.map((s) => s.line),
        expiresAt: view.expiresAt,
      },
      ...(refusal === undefined ? {} : { refusal }),
      ...(claim === undefined ? {} : { claim }),
    });
  }

  /**
   * Authorized again when it starts, under the analyst's identity: a grant revoked meanwhile fails it.
   * The decision also claims the action for this server (a replica that took it first wins): false,
   * with the action forgotten here and nothing recorded, when the log says another runner holds it.
   */
  async authorizeStart(action: QueuedAction): Promise<boolean> {
    const off = (await this.#options.isLiveResponseOn()) ? undefined : liveResponseOff();
    try {
      await this.#decide(action, "action.started", off, { actionId: action.view.id, runner: this.#runner });
      return true;
    } catch (error) {
      if (!isCustodyError(error, "ERR_CONFLICT") || error.details.claim !== "refused") throw error;
      this.#actions.delete(action.view.id);
      return false;
    }
  }

  /** The device went before the action's session opened: it waits again, and the log frees the claim. */
  async defer(action: QueuedAction, why: string): Promise<void> {
    transition(action.view, "pending");
    delete action.view.startedAt;
    await this.record(action, "action.deferred", "allow", `waits again: ${why}`, { runner: this.#runner });
  }

  /**
   * The actions the signed log holds open that this process does not: queued before it started (or by
   * another replica). Each runs under the person who queued it, authorized again when it starts. One
   * that a stopped process had started ends failed here, as it cannot resume half-way; on a shared log
   * another replica may be running it, and it is left to that replica.
   */
  #adoptFromLog(): void {
    const { vault } = this.#options;
    for (const logged of vault.openActions()) {
      if (this.#actions.has(logged.id)) continue;
      const adopted = adoptLoggedAction(vault, logged, this.#runner);
      if (adopted === undefined) continue;
      this.#actions.set(logged.id, adopted.action);
      if (adopted.failure !== undefined)
        void this.end(adopted.action, "failed", adopted.failure).catch(() => undefined);
    }
  }

  #deviceRefusal(request: QueueRequest): CustodyError | undefined {
    const device = this.#options.hub.list().find((d) => d.deviceId === request.deviceId);
    if (device === undefined)
      return new CustodyError("ERR_NOT_FOUND", `no enrolled device ${request.deviceId}`);
    return undefined;
  }

  #batchRefusal(request: QueueRequest): CustodyError | undefined {
    if (request.kind !== "batch") return undefined;
    const pending = [...this.#actions.values()].find(
      (a) => a.view.kind === "batch" && a.view.deviceId === request.deviceId && !isFinal(a.view.state),
    );
    if (pending === undefined) return undefined;
    return new CustodyError(
      "ERR_BATCH_PENDING",
      `device ${request.deviceId} already has batch ${pending.view.id} (${pending.view.state}); cancel it or wait for it`,
      { details: { actionId: pending.view.id, state: pending.view.state } },
    );
  }

  #tick(): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const action of this.#actions.values()) {
      if (action.authorized && isExpired(action.view, now)) {
        void this.end(action, "timed-out", {
          code: "ERR_ACTION_EXPIRED",
          message: `device ${action.view.deviceId} did not come back before ${action.view.expiresAt}`,
        }).catch(() => undefined);
      }
    }
    for (const deviceId of this.#devicesWaiting()) {
      if (this.#running.has(deviceId) || !this.#options.live.available(deviceId)) continue;
      const next = this.#nextFor(deviceId);
      if (next === undefined) continue;
      const run = runAction(this, this.#options.live, next)
        .catch((error: unknown) => this.end(next, "failed", errorOf(error)))
        // an action already settled stays as it is: nothing may escape the queue's timer
        .catch(() => undefined)
        .finally(() => {
          this.#running.delete(deviceId);
          queueMicrotask(() => this.#tick());
        });
      this.#running.set(deviceId, run);
    }
  }

  #devicesWaiting(): Set<string> {
    const devices = new Set<string>();
    for (const a of this.#actions.values())
      if (a.authorized && a.view.state === "pending") devices.add(a.view.deviceId);
    return devices;
  }

  /** The device's oldest pending action: actions run in the order they were queued. */
  #nextFor(deviceId: string): QueuedAction | undefined {
    for (const a of this.#actions.values()) {
      if (a.authorized && a.view.deviceId === deviceId && a.view.state === "pending") return a;
    }
    return undefined;
  }

  #forgetOldSettled(): void {
    const settled = [...this.#actions.values()].filter((a) => isFinal(a.view.state));
    for (const a of settled.slice(0, Math.max(0, settled.length - this.limits.keepSettled))) {
      this.#actions.delete(a.view.id);
    }
  }
}

function assertId(value: string, what: string): void {
  if (!scopeIdSchema.safeParse(value).success) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `'${value}' is not a ${what} id`);
  }
}

function newView(
  principal: AuthenticatedPrincipal,
  request: QueueRequest,
  steps: PlannedStep[],
  now: number,
  ttl: number,
): ActionView {
  return {
    id: `A-${randomUUID()}`,
    kind: request.kind,
    deviceId: request.deviceId,
    caseId: request.caseId,
    queuedBy: principal.id,
    state: "pending",
    queuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ttl).toISOString(),
    steps: stepViews(steps),
  };
}
