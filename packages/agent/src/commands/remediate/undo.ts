import { lstat, readFile, realpath, symlink } from "node:fs/promises";
import { CustodyError, throwIfAborted } from "@custody/core";
import type { AgentPolicy } from "../../policy-types.js";
import type { DownloadBody, RemediationStep, RestoreBody } from "../../schemas.js";
import type { ServerExchange } from "./exchange.js";
import { checkRemovable, type Guard, refused } from "./guard.js";
import { loadRecord, saveRecord } from "./records.js";
import { sha256Of } from "./run.js";
import { writeChecked } from "./write.js";

export interface UndoOptions {
  signal: AbortSignal;
  policy: AgentPolicy;
  agentDir: string;
  own: readonly string[];
  restore: RestoreBody | undefined;
  exchange: ServerExchange | undefined;
}

/** The server's download for a step's bytes: it must be for exactly the digest this device quarantined. */
function downloadFor(step: RemediationStep, restore: RestoreBody): DownloadBody {
  const sent = restore.steps.find((s) => s.step.path === step.path && s.download !== undefined)?.download;
  if (sent === undefined || sent.sha256 !== step.sha256 || sent.size !== step.size)
    throw new CustodyError("ERR_PROTOCOL", `the server sent no download of ${step.path}'s quarantined bytes`);
  return sent;
}

async function restoreStep(
  step: RemediationStep,
  guard: Guard,
  options: UndoOptions,
): Promise<RemediationStep> {
  const restore = options.restore as RestoreBody;
  const exchange = options.exchange as ServerExchange;
  const path = step.path as string;
  await checkRemovable(guard, path);
  if (step.action === "unlink") {
    await symlink(step.linkTarget as string, path).catch((cause: unknown) => {
      if ((cause as { code?: string }).code !== "EEXIST") throw cause;
    });
    return {
      action: "unlink",
      outcome: "done",
      path,
      linkTarget: step.linkTarget as string,
      note: "link restored",
    };
  }
  const expected = { sha256: step.sha256 as string, size: step.size as number, mode: step.mode ?? 0o600 };
  if (step.action === "rewrite") {
    // the original goes back only over the file this remediation left, never over a later change
    const now = await readFile(path).catch(() => undefined);
    if (now === undefined || sha256Of(now) !== step.afterSha256)
      throw new CustodyError(
        "ERR_FILE_CHANGED",
        `${path} changed since the remediation; it was not restored`,
      );
  }
  const body = await exchange.download(downloadFor(step, restore), options.signal);
  await writeChecked(path, body, expected, { replace: step.action === "rewrite", signal: options.signal });
  return {
    action: step.action,
    outcome: "done",
    path,
    sha256: expected.sha256,
    size: expected.size,
    mode: expected.mode,
    note: "restored",
  };
}

/**
 * Undoes a remediation this device carried out (its own record says what, the server sends only the
 * bytes): deleted files come back byte-identical with their mode (never over a file that is there now),
 * rewritten files get their original back, enablement links return. Stopped processes are not restarted.
 */
export async function undoRemediation(id: string, options: UndoOptions) {
  if (options.restore === undefined || options.exchange === undefined || options.restore.remediationId !== id)
    throw new CustodyError("ERR_PROTOCOL", "undo came without the remediation's downloads");
  const record = await loadRecord(options.agentDir, id);
  if (record.undone) throw refused(`remediation ${id} was already undone on this device`, { id });
  const root = await realpath(options.policy.remediation?.systemRoot ?? "/");
  const guard: Guard = { policy: options.policy, root, own: options.own };
  const todo = record.steps.filter(
    (s) => ["delete", "rewrite", "unlink"].includes(s.action) && s.outcome === "done",
  );
  // everything is checked before the first file is written
  for (const step of todo) {
    await checkRemovable(guard, step.path as string);
    if (step.action === "delete" && (await lstat(step.path as string).catch(() => undefined)) !== undefined)
      throw new CustodyError("ERR_FILE_EXISTS", `${step.path} exists again; nothing was restored`, {
        details: { path: step.path },
      });
  }
  const steps: RemediationStep[] = [];
  for (const step of todo.reverse()) {
    throwIfAborted(options.signal);
    steps.push(await restoreStep(step, guard, options));
  }
  await saveRecord(options.agentDir, { ...record, undone: true });
  return { id, type: record.type, target: record.target, steps };
}
