import type { ActionView } from "@custody/api";
import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, LoggedAction, Vault } from "@custody/vault";
import { errorOf } from "../sessions/tracked.js";
import type { QueuedAction } from "./queue.js";
import { stepViews, transition } from "./state.js";
import { type PlannedStep, planSteps } from "./steps.js";

/**
 * An action the signed log holds open, as the queue holds it after a start: run under the person who
 * queued it (authorized again when it starts). One that another process had started (`runner`) cannot
 * resume half-way: it comes back in progress with the failure to end it with; on a shared log another
 * replica may still be running it, and it is left alone (undefined). So is one whose identity the log
 * does not hold: it is not run, and stays open in the log.
 */
export function adoptLoggedAction(
  vault: Pick<Vault, "actorOfAction" | "sharedLog">,
  logged: LoggedAction,
  runner: string,
): { action: QueuedAction; failure?: { code: string; message: string } } | undefined {
  const interrupted = logged.runner !== undefined && logged.runner !== runner;
  if (interrupted && vault.sharedLog) return undefined;
  let principal: AuthenticatedPrincipal;
  try {
    principal = vault.actorOfAction(logged.id);
  } catch {
    return undefined;
  }
  let steps: PlannedStep[] = [];
  let unplanned: CustodyError | undefined;
  try {
    steps = planSteps(logged.lines, logged.kind);
  } catch (error) {
    unplanned = isCustodyError(error) ? error : new CustodyError("ERR_USAGE", String(error));
  }
  const action: QueuedAction = {
    principal,
    needs: [...new Set(steps.map((step) => step.spec.action))],
    authorized: true,
    view: loggedView(logged, steps),
  };
  if (interrupted) {
    transition(action.view, "in-progress");
    return {
      action,
      failure: {
        code: "ERR_ABORTED",
        message:
          "the server stopped while the action ran; it is not resumed (its action.step records say how far it got)",
      },
    };
  }
  return unplanned === undefined ? { action } : { action, failure: errorOf(unplanned) };
}

function loggedView(logged: LoggedAction, steps: PlannedStep[]): ActionView {
  return {
    id: logged.id,
    kind: logged.kind,
    deviceId: logged.deviceId,
    caseId: logged.caseId,
    queuedBy: logged.actor,
    state: "pending",
    queuedAt: logged.queuedAt,
    expiresAt: logged.expiresAt,
    steps: stepViews(steps),
  };
}
