import type { Readable } from "node:stream";
import type { ItemRecord } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { itemKey } from "./items.js";
import { type QuarantineItem, REMEDIATION_FACT, type RemediationState } from "./remediation-facts.js";
import { verifiedItemBytes } from "./stored-bytes.js";

export interface RemediationFact {
  remediationId: string;
  caseId: string;
  deviceId: string;
  sessionId: string;
  cmdId: string;
  type: string;
  target: string;
  steps: Record<string, unknown>[];
  items: QuarantineItem[];
}

export interface RemediationUndoneFact {
  remediationId: string;
  caseId: string;
  deviceId: string;
  sessionId: string;
  cmdId: string;
  steps: Record<string, unknown>[];
}

/**
 * States a remediation, once its device reported it done. The command was authorized (`live.advanced`
 * on the device and the case) before it was sent; each quarantine item must be an item of that case
 * the vault holds, so the fact never names bytes the vault did not store.
 */
export async function recordRemediation(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  fact: RemediationFact,
): Promise<RemediationState> {
  ctx.guard.assertAuthenticated(principal);
  for (const item of fact.items) {
    const entry = ctx.ledger.item(fact.caseId, item.itemId);
    if (entry === undefined || entry.purged)
      throw new CustodyError("ERR_NOT_FOUND", `quarantine item ${item.itemId} is not in case ${fact.caseId}`);
  }
  if (ctx.ledger.remediations.byId.has(fact.remediationId))
    throw new CustodyError("ERR_ALREADY_EXISTS", `remediation ${fact.remediationId} is recorded`);
  const target = `device:${fact.deviceId}`;
  const itemIds = [...new Set(fact.items.map((item) => item.itemId))];
  await ctx.locks.with([`remediation:${fact.remediationId}`], () =>
    ctx.guard.fact(
      principal.id,
      REMEDIATION_FACT.recorded,
      target,
      `${fact.type} ${fact.target} remediated`,
      {
        ...fact,
        itemIds,
      },
    ),
  );
  return ctx.ledger.remediations.byId.get(fact.remediationId) as RemediationState;
}

/**
 * A remediation as the log states it, for an undo in `caseId`: one of another case is ERR_NOT_FOUND
 * (its existence is not revealed), one already undone ERR_REMEDIATION_REFUSED.
 */
export function remediationForUndo(ctx: VaultContext, id: string, caseId: string): RemediationState {
  const state = ctx.ledger.remediations.byId.get(id);
  if (state === undefined || state.caseId !== caseId)
    throw new CustodyError("ERR_NOT_FOUND", `no remediation ${id} in case ${caseId}`, { details: { id } });
  if (state.undone !== undefined)
    throw new CustodyError(
      "ERR_REMEDIATION_REFUSED",
      `remediation ${id} was undone at ${state.undone.at} by ${state.undone.by} (${state.undone.cmdId})`,
      { details: { id, undoneBy: state.undone.cmdId } },
    );
  return state;
}

/** States that a remediation was undone (once; a second is ERR_REMEDIATION_REFUSED). */
export async function recordRemediationUndone(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  fact: RemediationUndoneFact,
): Promise<RemediationState> {
  ctx.guard.assertAuthenticated(principal);
  const lock = `remediation:${fact.remediationId}`;
  return ctx.locks.with([lock], async () => {
    const state = remediationForUndo(ctx, fact.remediationId, fact.caseId);
    await ctx.guard.fact(
      principal.id,
      REMEDIATION_FACT.undone,
      `device:${fact.deviceId}`,
      `remediation ${fact.remediationId} undone`,
      { ...fact, itemIds: [...new Set(state.items.map((item) => item.itemId))] },
    );
    return state;
  });
}

/**
 * A quarantine item's bytes for an undo the server has authorized, checked against the content address
 * as they stream. Only items a remediation of that case names are served.
 */
export async function quarantineBytes(
  ctx: VaultContext,
  remediationId: string,
  itemId: string,
): Promise<Readable> {
  const state = ctx.ledger.remediations.byId.get(remediationId);
  const entry = state === undefined ? undefined : ctx.ledger.item(state.caseId, itemId);
  if (
    state === undefined ||
    entry === undefined ||
    entry.purged ||
    !state.items.some((i) => i.itemId === itemId)
  )
    throw new CustodyError("ERR_NOT_FOUND", `no quarantine item ${itemId} of remediation ${remediationId}`);
  const key = itemKey(state.caseId, itemId);
  const { object, body } = await ctx.store.readObject(key);
  return verifiedItemBytes(body, { id: itemId, size: object.size } as ItemRecord);
}
