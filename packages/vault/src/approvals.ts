import { type ApprovableChange, type PendingApproval, requiredAction } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { assertLive, itemRequest } from "./evidence-ops.js";
import { FACT, itemTarget } from "./facts.js";
import { activateIdentity, performRevocation } from "./identity-ops.js";
import { viewItem } from "./item-view.js";
import { type EvidenceItem, itemKey, itemResource } from "./items.js";
import type { LedgerItem } from "./ledger.js";
import { ACCESS_LOCK, itemLock } from "./locks.js";
import { commitPolicy, proposeChange } from "./policy-facts.js";
import { type ItemRef, resolveItem } from "./resolve.js";

/** An operation that either happened or now waits for the second custodian. */
export type ApprovalOutcome = DoneOutcome | { status: "pending"; request: PendingApproval };
export type DoneOutcome = { status: "done"; message: string; item?: EvidenceItem };

interface Approval {
  requestId: string;
  proposedBy: string;
  approvedBy: string;
}

/** Releases a legal hold; with two custodians, opens a request the other one approves. */
export async function releaseHold(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
): Promise<ApprovalOutcome> {
  const entry = await resolveItem(ctx, principal, "evidence.release", ref);
  const change: ApprovableChange = { kind: "release-hold", resource: itemResource(entry) };
  // The custodian count decides between "done" and "pending": it may not change in between.
  return ctx.guard.run(itemRequest(principal, "evidence.release", entry), () =>
    ctx.locks.with([itemLock(entry.caseId, entry.id), ACCESS_LOCK], async () => {
      assertLive(entry);
      if (!entry.legalHold)
        throw new CustodyError("ERR_INVALID_ARGUMENT", `item ${entry.id} is not under legal hold`);
      if (ctx.policy.requiresApproval(change))
        return { status: "pending", request: await proposeChange(ctx, principal, change) };
      return performRelease(ctx, principal.id, entry);
    }),
  );
}

/** Deletes an item whose retention has passed and that is not held; two custodians must agree when two exist. */
export async function purgeItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
): Promise<ApprovalOutcome> {
  const entry = await resolveItem(ctx, principal, "evidence.purge", ref);
  const change: ApprovableChange = { kind: "purge", resource: itemResource(entry) };
  // Authorized (and recorded) first: a person without the grant learns nothing about holds or retention.
  return ctx.guard.run(itemRequest(principal, "evidence.purge", entry), () =>
    ctx.locks.with([itemLock(entry.caseId, entry.id), ACCESS_LOCK], async () => {
      assertLive(entry);
      assertPurgeable(ctx, entry);
      if (ctx.policy.requiresApproval(change))
        return { status: "pending", request: await proposeChange(ctx, principal, change) };
      return performPurge(ctx, principal.id, entry);
    }),
  );
}

/** Approving and refusing a pending request are both `access.approve` on the policy, naming the request. */
function decisionRequest(principal: AuthenticatedPrincipal, requestId: string) {
  return {
    principal,
    action: "access.approve",
    resource: { kind: "policy" },
    target: `request:${requestId}`,
  } as const;
}

/** The second custodian approves a request; the change or operation it names happens now, recorded. */
export async function approveRequest(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  requestId: string,
): Promise<ApprovalOutcome> {
  return ctx.guard.run(decisionRequest(principal, requestId), () =>
    ctx.locks.with(approvalLocks(ctx, requestId), async () => {
      const result = await commitPolicy(ctx, principal, (options) =>
        ctx.policy.approve(requestId, principal, options),
      );
      const approved = result.request;
      const approval = { requestId, proposedBy: approved.proposedBy, approvedBy: principal.id };
      const outcome = await performApproved(ctx, approved.change, approval);
      await ctx.guard.note(
        principal,
        requiredAction(approved.change),
        targetOf(approved.change),
        `${outcome.message}; proposed by ${approved.proposedBy}, approved by ${principal.id} (request ${requestId})`,
        { ...approval, policyVersion: result.version },
      );
      return outcome;
    }),
  );
}

/**
 * A custodian refuses a pending request (or its proposer withdraws it): it leaves the pending list in a
 * new policy version, and nothing it names happens. Recorded like an approval, with who refused it.
 */
export async function refuseRequest(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  requestId: string,
): Promise<ApprovalOutcome> {
  return ctx.guard.run(decisionRequest(principal, requestId), () =>
    ctx.locks.with([ACCESS_LOCK], async () => {
      const result = await commitPolicy(ctx, principal, (options) =>
        ctx.policy.cancel(requestId, principal, options),
      );
      const refused = result.request;
      const message = `request ${requestId} (${refused.change.kind}) refused by ${principal.id}; proposed by ${refused.proposedBy}, nothing done`;
      await ctx.guard.note(principal, "access.approve", targetOf(refused.change), message, {
        requestId,
        proposedBy: refused.proposedBy,
        refusedBy: principal.id,
        policyVersion: result.version,
      });
      return { status: "done", message };
    }),
  );
}

/** The access lock, and the item's when the request names one (its release or purge happens now). */
function approvalLocks(ctx: VaultContext, requestId: string): string[] {
  const pending = ctx.policy.policy.pendingApprovals.find((request) => request.id === requestId);
  const resource =
    pending?.change.kind === "release-hold" || pending?.change.kind === "purge"
      ? pending.change.resource
      : undefined;
  return resource === undefined
    ? [ACCESS_LOCK]
    : [ACCESS_LOCK, itemLock(resource.caseId ?? "", resource.itemId ?? "")];
}

async function performApproved(
  ctx: VaultContext,
  change: ApprovableChange,
  approval: Approval,
): Promise<DoneOutcome> {
  switch (change.kind) {
    case "release-hold":
      return performRelease(ctx, approval.approvedBy, approvedItem(ctx, change), approval);
    case "purge": {
      const entry = approvedItem(ctx, change);
      assertPurgeable(ctx, entry);
      return performPurge(ctx, approval.approvedBy, entry, approval);
    }
    case "activate-identity":
      await activateIdentity(ctx, change.serialNumber, approval);
      return { status: "done", message: `identity ${change.serialNumber} of ${change.principal} activated` };
    case "revoke-identity": {
      const revoked = await performRevocation(ctx, approval.approvedBy, change.principal, approval);
      return { status: "done", message: `${revoked.length} identit(ies) of ${change.principal} revoked` };
    }
    default:
      return { status: "done", message: `policy change ${change.kind} applied` };
  }
}

function approvedItem(
  ctx: VaultContext,
  change: { resource: { caseId?: string; itemId?: string } },
): LedgerItem {
  const entry = ctx.ledger.item(change.resource.caseId ?? "", change.resource.itemId ?? "");
  if (entry === undefined || entry.purged)
    throw new CustodyError("ERR_NOT_FOUND", "the approved item no longer exists");
  return entry;
}

async function performRelease(
  ctx: VaultContext,
  actor: string,
  entry: LedgerItem,
  approval?: Approval,
): Promise<DoneOutcome> {
  const key = itemKey(entry.caseId, entry.id);
  await ctx.store.setLegalHold(key, false);
  const target = itemTarget(entry.caseId, entry.id);
  const details = { legalHold: false as const, ...approval };
  // Another replica stated something about the item first: release again unless the log says released.
  await ctx.guard.fact(actor, FACT.holdReleased, target, "legal hold released", details, async () => {
    assertLive(entry);
    if (!entry.legalHold) return false;
    await ctx.store.setLegalHold(key, false);
    return true;
  });
  return {
    status: "done",
    message: `legal hold released on item ${entry.id}`,
    item: await viewItem(ctx, entry),
  };
}

async function performPurge(
  ctx: VaultContext,
  actor: string,
  entry: LedgerItem,
  approval?: Approval,
): Promise<DoneOutcome> {
  await ctx.store.delete(itemKey(entry.caseId, entry.id));
  const target = itemTarget(entry.caseId, entry.id);
  await ctx.guard.fact(actor, FACT.purged, target, "item purged", { ...approval }, async () => !entry.purged);
  return { status: "done", message: `item ${entry.id} purged` };
}

// The log's state decides, not the store's flags (which a folder writer could clear).
function assertPurgeable(ctx: VaultContext, entry: LedgerItem): void {
  if (entry.legalHold) throw new CustodyError("ERR_IMMUTABLE", `item ${entry.id} is under legal hold`);
  const until = entry.retainUntil === undefined ? 0 : Date.parse(entry.retainUntil);
  if (until > ctx.clock.now().getTime()) {
    throw new CustodyError("ERR_IMMUTABLE", `item ${entry.id} is retained until ${entry.retainUntil}`);
  }
}

function targetOf(change: ApprovableChange): string {
  switch (change.kind) {
    case "release-hold":
    case "purge":
      return itemTarget(change.resource.caseId ?? "", change.resource.itemId ?? "");
    case "grant":
    case "revoke":
    case "activate-identity":
    case "revoke-identity":
      return `principal:${change.principal}`;
    case "define-role":
    case "remove-role":
      return `role:${change.name}`;
  }
}
