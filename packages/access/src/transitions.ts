import { CustodyError } from "@custody/core";
import type { z } from "zod";
import type { Decision } from "./authorize.js";
import { authorize } from "./authorize.js";
import {
  applyPolicyChange,
  authorizeChange,
  custodiansOf,
  isPolicyChange,
  nextVersion,
  requiresApproval,
} from "./policy.js";
import {
  type AccessPolicy,
  type Actor,
  type ApprovableChange,
  approvableChangeSchema,
  type PendingApproval,
  type PolicyChange,
  policyChangeSchema,
  principalIdSchema,
} from "./schema.js";

/** A new version and what made it: the data the vault writes to its audit log. */
export interface Transition {
  policy: AccessPolicy;
  decision: Decision;
  request?: PendingApproval;
}

/** Makes a policy change directly: refused with ERR_APPROVAL_REQUIRED where a second custodian must approve. */
export function applyTransition(
  policy: AccessPolicy,
  input: PolicyChange,
  byInput: Actor,
  at: Date,
): Transition {
  const change = parseChange(policyChangeSchema, input);
  const by = parsePrincipal(byInput);
  const decision = authorizeChange(policy, by, change, at);
  if (requiresApproval(policy, change)) {
    throw new CustodyError(
      "ERR_APPROVAL_REQUIRED",
      `${change.kind} needs the approval of the second custodian; propose it`,
      {
        details: { change, custodians: custodiansOf(policy) },
      },
    );
  }
  const when = at.toISOString();
  const next = nextVersion(policy, { kind: "apply", by: by.id, at: when, change }, (draft) =>
    applyPolicyChange(draft, change, by.id, when),
  );
  return { policy: next, decision };
}

export interface ProposeInput {
  at: Date;
  id: string;
  expiresAt: Date;
}

/** Records a change awaiting the other custodian; refused when no approval is needed (act directly). */
export function proposeTransition(
  policy: AccessPolicy,
  input: ApprovableChange,
  byInput: Actor,
  { at, id, expiresAt }: ProposeInput,
): Transition {
  const change = parseChange(approvableChangeSchema, input);
  const by = parsePrincipal(byInput);
  const decision = authorizeChange(policy, by, change, at);
  if (!requiresApproval(policy, change)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `${change.kind} needs no approval here; make it directly`,
      {
        details: { change, custodians: custodiansOf(policy) },
      },
    );
  }
  // Refuse now what could never be approved (a third custodian, an unknown role).
  if (isPolicyChange(change))
    nextVersion(policy, eventAt(by.id, at), (d) => applyPolicyChange(d, change, by.id, at.toISOString()));
  const request: PendingApproval = {
    id,
    change,
    proposedBy: by.id,
    proposedAt: at.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
  const next = nextVersion(
    policy,
    { kind: "propose", by: by.id, at: at.toISOString(), change, requestId: id },
    (draft) => {
      if (draft.pendingApprovals.some((r) => r.id === id)) {
        throw new CustodyError("ERR_ALREADY_EXISTS", `approval request ${id} already exists`, {
          details: { id },
        });
      }
      draft.pendingApprovals.push(request);
    },
  );
  return { policy: next, decision, request };
}

/**
 * The second custodian approves: a policy change is applied in the same version; a vault operation
 * (release-hold, purge) is marked done here and the caller performs it next.
 */
export function approveTransition(policy: AccessPolicy, id: string, byInput: Actor, at: Date): Transition {
  const by = parsePrincipal(byInput);
  const request = findRequest(policy, id, at);
  const decision = authorize(policy, by, "access.approve", { kind: "policy" }, { clock: { now: () => at } });
  if (decision.outcome === "deny")
    throw new CustodyError("ERR_ACCESS_DENIED", decision.reason, { details: { decision } });
  if (request.proposedBy === by.id) {
    throw new CustodyError("ERR_ACCESS_DENIED", `${by.id} proposed request ${id} and cannot approve it too`, {
      details: { id, proposedBy: request.proposedBy },
    });
  }
  // The proposer must still hold what the change needs when it takes effect.
  authorizeChange(policy, { id: request.proposedBy }, request.change, at);
  const when = at.toISOString();
  const event = {
    kind: "approve" as const,
    by: by.id,
    at: when,
    change: request.change,
    requestId: id,
    proposedBy: request.proposedBy,
  };
  const next = nextVersion(policy, event, (draft) => {
    draft.pendingApprovals = draft.pendingApprovals.filter((r) => r.id !== id);
    if (isPolicyChange(request.change)) applyPolicyChange(draft, request.change, request.proposedBy, when);
  });
  return { policy: next, decision, request };
}

/** The proposer or any custodian withdraws a request. */
export function cancelTransition(policy: AccessPolicy, id: string, byInput: Actor, at: Date): Transition {
  const by = parsePrincipal(byInput);
  const request = findRequest(policy, id, at);
  const decision = authorize(policy, by, "access.approve", { kind: "policy" }, { clock: { now: () => at } });
  if (decision.outcome === "deny" && request.proposedBy !== by.id) {
    throw new CustodyError("ERR_ACCESS_DENIED", decision.reason, { details: { decision } });
  }
  const allowed: Decision =
    decision.outcome === "allow"
      ? decision
      : { ...decision, reason: `${by.id} withdraws its own request ${id}` };
  const event = {
    kind: "cancel" as const,
    by: by.id,
    at: at.toISOString(),
    change: request.change,
    requestId: id,
    proposedBy: request.proposedBy,
  };
  const next = nextVersion(policy, event, (draft) => {
    draft.pendingApprovals = draft.pendingApprovals.filter((r) => r.id !== id);
  });
  return { policy: next, decision: allowed, request };
}

function findRequest(policy: AccessPolicy, id: string, at: Date): PendingApproval {
  const request = policy.pendingApprovals.find((r) => r.id === id);
  if (request === undefined) {
    throw new CustodyError("ERR_NOT_FOUND", `no pending approval request ${id}`, { details: { id } });
  }
  if (Date.parse(request.expiresAt) <= at.getTime()) {
    throw new CustodyError("ERR_APPROVAL_EXPIRED", `approval request ${id} expired at ${request.expiresAt}`, {
      details: { id, expiresAt: request.expiresAt },
    });
  }
  return request;
}

function eventAt(by: string, at: Date) {
  return { kind: "apply" as const, by, at: at.toISOString() };
}

function parseChange<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where =
    issue === undefined ? "" : `${issue.path.map(String).join(".") || "(change)"}: ${issue.message}`;
  throw new CustodyError("ERR_POLICY_INVALID", `invalid policy change: ${where}`, {
    details: { change: input },
  });
}

function parsePrincipal(input: Actor): Actor {
  const result = principalIdSchema.safeParse(
    typeof input === "object" && input !== null ? input.id : undefined,
  );
  if (!result.success) throw new CustodyError("ERR_INVALID_ARGUMENT", "the actor has no valid principal id");
  return { id: result.data };
}
