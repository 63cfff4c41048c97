import type { ActionStep } from "@custody/api";
import { isCustodyError } from "@custody/core";
import type { LiveSessions } from "../sessions/service.js";
import type { CommandEntry, LiveSession } from "../sessions/session.js";
import { errorOf } from "../sessions/tracked.js";
import type { ActionQueue, QueuedAction } from "./queue.js";
import { transition } from "./state.js";

// a session that could not open for these reasons leaves the action pending: the device comes back later
const TRY_AGAIN = new Set(["ERR_DEVICE_OFFLINE", "ERR_SESSION_LIMIT"]);

/**
 * Runs one action on its (connected) device: authorized again under the analyst's identity
 * (`action.started`), then a live session of its own in which each step is a command of the session
 * log (authorized at submit and dispatch like any other), in order, stopping at the first failure.
 * The session's transcript is stored in the case when it ends; each step is an `action.step` fact.
 */
export async function runAction(queue: ActionQueue, live: LiveSessions, action: QueuedAction): Promise<void> {
  const { view } = action;
  transition(view, "in-progress");
  view.startedAt = new Date().toISOString();
  try {
    if (!(await queue.authorizeStart(action))) return; // another replica runs it
  } catch (error) {
    return queue.end(action, "failed", errorOf(error));
  }
  if (action.cancel !== undefined) {
    return queue.end(action, "cancelled", {
      code: "ERR_ABORTED",
      message: `cancelled: ${action.cancel.reason}`,
    });
  }
  let session: LiveSession;
  try {
    const opened = await live.open(action.principal, view.deviceId, view.caseId, { forAction: view.id });
    session = live.get(action.principal, opened.id);
  } catch (error) {
    if (isCustodyError(error) && TRY_AGAIN.has(error.code) && action.cancel === undefined) {
      return queue.defer(action, error.code);
    }
    return queue.end(action, "failed", errorOf(error));
  }
  view.sessionId = session.id;
  const failure = await runSteps(queue, live, action, session);
  const closed = await live.close(session, "action-ended").catch(() => undefined);
  if (closed?.transcriptItemId !== undefined) view.transcriptItemId = closed.transcriptItemId;
  // a cancel arrives while the steps run (the narrowing above does not see it)
  const cancel = action.cancel as QueuedAction["cancel"];
  if (cancel !== undefined) {
    return queue.end(action, "cancelled", { code: "ERR_ABORTED", message: `cancelled: ${cancel.reason}` });
  }
  return failure === undefined ? queue.end(action, "succeeded") : queue.end(action, "failed", failure);
}

/** The steps in order; the first that does not complete stops the rest. Answers that step's error. */
async function runSteps(
  queue: ActionQueue,
  live: LiveSessions,
  action: QueuedAction,
  session: LiveSession,
): Promise<{ code: string; message: string } | undefined> {
  for (const step of action.view.steps) {
    if (action.cancel !== undefined) return undefined;
    const entry = await runStep(live, action, session, step);
    await queue
      .record(
        action,
        "action.step",
        step.state === "succeeded" ? "allow" : "error",
        `step ${step.index + 1} ${step.state}`,
        {
          step: step.index,
          line: step.line,
          state: step.state,
          ...(step.cmdId === undefined ? {} : { cmdId: step.cmdId, sessionId: session.id }),
          ...(step.itemId === undefined ? {} : { itemId: step.itemId }),
          ...(step.outputSha256 === undefined ? {} : { outputSha256: step.outputSha256 }),
          ...(step.error === undefined ? {} : { error: step.error.code }),
        },
      )
      .catch(() => undefined);
    if (step.state !== "succeeded") {
      const error = step.error ?? {
        code: "ERR_COMMAND_FAILED",
        message: `step ${step.index + 1} ${entry?.status ?? "failed"}`,
      };
      return { code: error.code, message: `step ${step.index + 1} (${step.line}): ${error.message}` };
    }
  }
  return undefined;
}

async function runStep(
  live: LiveSessions,
  action: QueuedAction,
  session: LiveSession,
  step: ActionStep,
): Promise<CommandEntry | undefined> {
  step.state = "running";
  step.startedAt = new Date().toISOString();
  let entry: CommandEntry;
  try {
    const submitted = await live.commands.submit(action.principal, session, step.line);
    step.cmdId = submitted.id;
    action.currentCmdId = submitted.id;
    entry = (await live.commands.get(submitted.id)?.done) ?? submitted;
  } catch (error) {
    step.state = "failed";
    step.error = errorOf(error);
    step.endedAt = new Date().toISOString();
    return undefined;
  } finally {
    delete action.currentCmdId;
  }
  step.endedAt = new Date().toISOString();
  step.state =
    entry.status === "completed" ? "succeeded" : entry.status === "cancelled" ? "cancelled" : "failed";
  step.rows = entry.rows;
  if (entry.outputSha256 !== undefined) step.outputSha256 = entry.outputSha256;
  if (entry.itemId !== undefined) step.itemId = entry.itemId;
  if (entry.error !== undefined) step.error = entry.error;
  if (entry.data !== undefined) step.data = entry.data;
  return entry;
}
