import { type Action, type ApprovableChange, type PendingApproval, requiredAction } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./identity.js";
import { type EvidenceItem, itemKey, itemResource, toItem } from "./item.js";
import type { Vault } from "./vault.js";

/** An operation that either happened or now waits for the second custodian. */
export type ApprovalOutcome = DoneOutcome | { status: "pending"; request: PendingApproval };
export type DoneOutcome = { status: "done"; message: string; item?: EvidenceItem };

/** Releases a legal hold; with two custodians, opens a request the other one approves. */
export async function releaseHold(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
): Promise<ApprovalOutcome> {
  const item = await vault.findItem(id);
  const change: ApprovableChange = { kind: "release-hold", resource: itemResource(item) };
  if (await needsApproval(vault, change)) {
    return propose(vault, principal, "evidence.release", item, change);
  }
  return vault.run(vault.itemRequest(principal, "evidence.release", item), () => performRelease(vault, item));
}

/** Deletes an item whose retention has passed and that is not held; two custodians must agree when two exist. */
export async function purgeItem(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
): Promise<ApprovalOutcome> {
  const item = await vault.findItem(id);
  const change: ApprovableChange = { kind: "purge", resource: itemResource(item) };
  // Authorized (and recorded) first: a person without the grant learns nothing about holds or retention.
  const precheck = () => assertPurgeable(vault, item);
  if (await needsApproval(vault, change)) {
    return propose(vault, principal, "evidence.purge", item, change, precheck);
  }
  return vault.run(vault.itemRequest(principal, "evidence.purge", item), async () => {
    precheck();
    return performPurge(vault, item);
  });
}

/** The second custodian approves a request; the change or operation it names happens now, recorded. */
export async function approveRequest(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  requestId: string,
): Promise<ApprovalOutcome> {
  const request = {
    principal,
    action: "access.approve",
    resource: { kind: "policy" },
    target: `request:${requestId}`,
  } as const;
  return vault.run(request, async () => {
    const result = await vault.policy.approve(requestId, principal);
    const approved = result.request;
    if (approved === undefined)
      throw new CustodyError("ERR_INTERNAL", `approval ${requestId} returned no request`);
    const outcome = await performApproved(vault, approved);
    await vault.audit.append({
      actor: principal.id,
      action: requiredAction(approved.change),
      target: targetOf(approved.change),
      outcome: "allow",
      reason: `${outcome.message}; proposed by ${approved.proposedBy}, approved by ${principal.id} (request ${requestId})`,
      details: {
        requestId,
        proposedBy: approved.proposedBy,
        approvedBy: principal.id,
        policyVersion: result.version,
      },
    });
    return outcome;
  });
}

async function needsApproval(vault: Vault, change: ApprovableChange): Promise<boolean> {
  await vault.policy.refresh();
  return vault.policy.requiresApproval(change);
}

async function performApproved(vault: Vault, request: PendingApproval): Promise<DoneOutcome> {
  const change = request.change;
  switch (change.kind) {
    case "release-hold":
      return performRelease(vault, await vault.findItem(change.resource.itemId ?? ""));
    case "purge": {
      const item = await vault.findItem(change.resource.itemId ?? "");
      assertPurgeable(vault, item);
      return performPurge(vault, item);
    }
    default:
      return { status: "done", message: `policy change ${change.kind} applied` };
  }
}

async function propose(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  action: Action,
  item: EvidenceItem,
  change: ApprovableChange,
  precheck: () => void = () => {},
): Promise<ApprovalOutcome> {
  return vault.run(vault.itemRequest(principal, action, item, { approval: "proposed" }), async () => {
    precheck();
    const result = await vault.policy.propose(change, principal);
    if (result.request === undefined) throw new CustodyError("ERR_INTERNAL", "propose returned no request");
    await vault.audit.append({
      actor: principal.id,
      action: "access.propose",
      target: `item:${item.id}`,
      outcome: "allow",
      reason: `${change.kind} of item ${item.id} awaits the second custodian (request ${result.request.id})`,
      details: { requestId: result.request.id, change: change.kind, expiresAt: result.request.expiresAt },
    });
    return { status: "pending", request: result.request };
  });
}

async function performRelease(vault: Vault, item: EvidenceItem): Promise<DoneOutcome> {
  const updated = toItem(await vault.store.setLegalHold(itemKey(item.id), false));
  return { status: "done", message: `legal hold released on item ${item.id}`, item: updated };
}

async function performPurge(vault: Vault, item: EvidenceItem): Promise<DoneOutcome> {
  await vault.store.delete(itemKey(item.id));
  return { status: "done", message: `item ${item.id} purged` };
}

function assertPurgeable(vault: Vault, item: EvidenceItem): void {
  if (item.legalHold) throw new CustodyError("ERR_IMMUTABLE", `item ${item.id} is under legal hold`);
  const until = item.retainUntil === undefined ? 0 : Date.parse(item.retainUntil);
  if (until > vault.clock.now().getTime()) {
    throw new CustodyError("ERR_IMMUTABLE", `item ${item.id} is retained until ${item.retainUntil}`);
  }
}

function targetOf(change: ApprovableChange): string {
  switch (change.kind) {
    case "release-hold":
    case "purge":
      return `item:${change.resource.itemId ?? ""}`;
    case "grant":
    case "revoke":
      return `principal:${change.principal}`;
    case "define-role":
    case "remove-role":
      return `role:${change.name}`;
  }
}
