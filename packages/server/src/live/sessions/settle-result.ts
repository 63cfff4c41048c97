import type { resultSchema } from "@custody/agent/protocol";
import type { Vault } from "@custody/vault";
import { settleCollect } from "./package-upload.js";
import type { RemediationExchange } from "./remediation.js";
import { storeRunOutput } from "./run-script.js";
import { errorOf, type Tracked } from "./tracked.js";
import { analyzeRow } from "./verdict.js";

export type Result = ReturnType<typeof resultSchema.parse>;

type Failure = { code: string; message: string };

export interface SettleDeps {
  vault: Vault;
  remediation: RemediationExchange;
  /** Adds rows to the command's output (hashed, kept, sent to its followers). */
  addRows(tracked: Tracked, rows: Record<string, unknown>[]): void;
}

/**
 * What the vault makes of a command's result before the command is settled, command by command: the
 * verdict of analyze and the facts of isolate and release, the item a getfile, collect or run stored,
 * the remediation (or undo) it recorded. `status` is what the command ends as unless something here
 * fails (a cancel or timeout that came first wins over the device's own status). The answer's `error`
 * makes a completed command failed.
 */
export async function settleResult(
  deps: SettleDeps,
  tracked: Tracked,
  result: Result,
  status: Result["status"] | "timed-out" | "cancelled",
): Promise<{ data: Record<string, unknown> | undefined; error: Failure | undefined }> {
  const reported = result.data;
  const completed = result.status === "completed" && status === "completed";
  let error: Failure | undefined = result.error;
  // a stopped script's survivors (the agent checks /proc after killing its group) stay in the log
  let data = result.survivors === undefined ? reported : { ...reported, survivors: result.survivors };
  if (completed) {
    const settled = await responseFacts(deps, tracked, data).catch((cause: unknown) => ({
      error: errorOf(cause),
    }));
    if ("error" in settled) error = settled.error;
    else data = settled.data;
  }
  if (tracked.transfer !== undefined && result.status === "completed") {
    const stored = await tracked.transfer.outcome();
    if (stored.itemId !== undefined) tracked.entry.itemId = stored.itemId;
    if (stored.error !== undefined) error = stored.error;
  }
  if (tracked.packageUpload !== undefined && completed) {
    const stored = await settleCollect(tracked.packageUpload, data);
    data = stored.data;
    if (stored.itemId !== undefined) tracked.entry.itemId = stored.itemId;
    if (stored.error !== undefined) error = stored.error;
    else deps.addRows(tracked, [stored.data]);
  }
  const name = tracked.entry.name;
  if ((name === "remediate" || name === "undo") && completed && error === undefined) {
    const settled = await (name === "remediate"
      ? deps.remediation.recordRemediate(tracked, data)
      : deps.remediation.recordUndo(tracked, data)
    ).catch((cause: unknown) => ({ data, error: errorOf(cause), itemId: undefined }));
    data = settled.data;
    if ("itemId" in settled && settled.itemId !== undefined) tracked.entry.itemId = settled.itemId;
    if ("error" in settled && settled.error !== undefined) error = settled.error;
  }
  if (name === "remediate" && !completed) {
    const itemId = await deps.remediation.recordUnfinished(tracked, status).catch(() => undefined);
    if (itemId !== undefined) tracked.entry.itemId = itemId;
  }
  if (name === "run" && completed) {
    const stored = await storeRunOutput(deps.vault, tracked, data);
    data = stored.data;
    if (stored.itemId !== undefined) tracked.entry.itemId = stored.itemId;
    if (stored.error !== undefined) error = stored.error;
  }
  return { data, error };
}

/**
 * What the vault adds to a completed response command: analyze's verdict (the device sent facts,
 * the vault decides and sends the row), isolate's and release's facts in the signed log.
 */
async function responseFacts(
  deps: SettleDeps,
  tracked: Tracked,
  data: Record<string, unknown> | undefined,
): Promise<{ data: Record<string, unknown> | undefined }> {
  const { entry, session } = tracked;
  if (entry.name === "analyze" && data !== undefined) {
    const row = analyzeRow(data, (sha256) => deps.vault.lookupHash(sha256));
    deps.addRows(tracked, [row]);
    return { data: row };
  }
  if ((entry.name === "isolate" || entry.name === "release") && data !== undefined) {
    const isolated = entry.name === "isolate";
    const allowed = Array.isArray(data.allowed) ? data.allowed.map(String).slice(0, 16) : [];
    await deps.vault.recordIsolation(tracked.principal, {
      deviceId: session.deviceId,
      isolated,
      allowed,
      sessionId: session.id,
      cmdId: entry.id,
      caseId: session.caseId,
    });
  }
  return { data };
}
