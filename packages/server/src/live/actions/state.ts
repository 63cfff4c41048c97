import type { ActionState, ActionStep, ActionView } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { PlannedStep } from "./steps.js";

/** The states an action may move to from each state; the final ones go nowhere. */
const NEXT: Readonly<Record<ActionState, readonly ActionState[]>> = {
  // in-progress → pending: the device left (or a session took it) before the action's session opened
  pending: ["in-progress", "timed-out", "cancelled"],
  "in-progress": ["pending", "succeeded", "failed", "cancelled"],
  succeeded: [],
  failed: [],
  "timed-out": [],
  cancelled: [],
};

export const FINAL_ACTION_STATES: ReadonlySet<ActionState> = new Set([
  "succeeded",
  "failed",
  "timed-out",
  "cancelled",
]);

export function isFinal(state: ActionState): boolean {
  return FINAL_ACTION_STATES.has(state);
}

/** Moves an action to `next`, or throws ERR_CONFLICT naming both states (the action is unchanged). */
export function transition(action: Pick<ActionView, "id" | "state">, next: ActionState): void {
  if (!NEXT[action.state].includes(next)) {
    throw new CustodyError(
      "ERR_CONFLICT",
      `action ${action.id} is ${action.state}; it cannot become ${next}`,
      {
        details: { actionId: action.id, state: action.state, next },
      },
    );
  }
  action.state = next;
}

/** The steps after a failure or a cancel: each one that never started is `not-run`. */
export function markRestNotRun(steps: ActionStep[]): void {
  for (const step of steps) if (step.state === "pending") step.state = "not-run";
}

/** Whether the action is due to expire at `now` (only a pending action expires). */
export function isExpired(action: Pick<ActionView, "state" | "expiresAt">, now: number): boolean {
  return action.state === "pending" && Date.parse(action.expiresAt) <= now;
}

/** The steps of a new or rebuilt action, each pending. */
export function stepViews(steps: readonly PlannedStep[]): ActionStep[] {
  return steps.map((step, index) => ({ index, line: step.line, name: step.parsed.name, state: "pending" }));
}
