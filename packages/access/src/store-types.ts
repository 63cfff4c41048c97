import type { Clock, IdGenerator, Logger } from "@custody/core";
import type { Decision } from "./authorize.js";
import type { RoleDefinition } from "./roles.js";
import type { AccessPolicy, PendingApproval, PolicyEvent } from "./schema.js";

export interface AccessPolicyStoreOptions {
  clock?: Clock;
  /** Makes approval request ids; UUIDv7 by default. */
  ids?: IdGenerator;
  /** How long an approval request stays open; 24 hours by default. */
  approvalTtlMs?: number;
  logger?: Logger;
}

export interface InitOptions extends AccessPolicyStoreOptions {
  /** The role table; DEFAULT_ROLES when absent. */
  roles?: Record<string, RoleDefinition>;
}

export interface WriteOptions {
  /** Refuse with ERR_CONFLICT unless the policy is still at this version (optimistic concurrency). */
  expectedVersion?: number;
  abortSignal?: AbortSignal;
}

/** What a change did, for the vault's audit record. */
export interface PolicyChangeResult {
  version: number;
  hash: string;
  previous: string | null;
  event: PolicyEvent;
  decision: Decision;
  /** The request proposed, approved or cancelled. */
  request?: PendingApproval;
  policy: AccessPolicy;
}

/** The result of propose, approve and cancel, which always concern one request. */
export type ApprovalResult = PolicyChangeResult & { request: PendingApproval };
