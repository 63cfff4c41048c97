import type { PendingApproval } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";
import type { LedgerIdentity } from "./ledger.js";
import { ACCESS_LOCK } from "./locks.js";
import { issueIdentity } from "./pki.js";
import { proposeChange } from "./policy-facts.js";

export interface IdentityIssue {
  /** Certificate and private key, PEM: hand it to its holder and nobody else. */
  identityPem: string;
  serialNumber: string;
  fingerprintSha256: string;
  /** `pending`: an identity for a custodian's name logs in only once the other custodian approves. */
  status: "active" | "pending";
  request?: PendingApproval;
}

interface Approval {
  requestId: string;
  proposedBy: string;
  approvedBy: string;
}

/** Issues a login identity for `name`, bound to the log by its serial and fingerprint. */
export async function issueIdentityFor(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  name: string,
  kind: "person" | "device" = "person",
): Promise<IdentityIssue> {
  const request = {
    principal,
    action: "identity.issue",
    resource: { kind: "vault" },
    target: `principal:${name}`,
    details: { kind },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([ACCESS_LOCK], async (): Promise<IdentityIssue> => {
      // Grants name principals: a device may never share a person's name (and so their grants).
      const other = ctx.ledger.identitiesOf(name).find((identity) => identity.kind !== kind);
      if (other !== undefined) {
        throw new CustodyError("ERR_CONFLICT", `${name} is a ${other.kind}'s name; a ${kind} needs its own`);
      }
      const issued = await issueIdentity(ctx.pki, name, kind, { clock: ctx.clock });
      const change = {
        kind: "activate-identity",
        principal: name,
        serialNumber: issued.serialNumber,
      } as const;
      const pending = ctx.policy.requiresApproval(change)
        ? await proposeChange(ctx, principal, change)
        : undefined;
      await ctx.guard.fact(
        principal.id,
        FACT.identityIssued,
        `principal:${name}`,
        `${kind} identity ${issued.serialNumber} issued to ${name}${pending === undefined ? "" : `, awaiting approval (request ${pending.id})`}`,
        {
          name,
          serialNumber: issued.serialNumber,
          fingerprintSha256: issued.fingerprintSha256,
          kind,
          active: pending === undefined,
          ...(pending === undefined ? {} : { requestId: pending.id }),
        },
      );
      return {
        ...issued,
        status: pending === undefined ? "active" : "pending",
        ...(pending === undefined ? {} : { request: pending }),
      };
    }),
  );
}

export type IdentityRevocation =
  | { status: "done"; revoked: LedgerIdentity[] }
  | { status: "pending"; request: PendingApproval };

/** Revokes every identity of `name` (a lost laptop, a departed analyst); a custodian's needs both custodians. */
export async function revokeIdentity(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  name: string,
): Promise<IdentityRevocation> {
  const request = {
    principal,
    action: "identity.issue",
    resource: { kind: "vault" },
    target: `principal:${name}`,
    details: { change: "revoke-identity" },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([ACCESS_LOCK], async (): Promise<IdentityRevocation> => {
      liveIdentities(ctx, name);
      const change = { kind: "revoke-identity", principal: name } as const;
      if (ctx.policy.requiresApproval(change))
        return { status: "pending", request: await proposeChange(ctx, principal, change) };
      return { status: "done", revoked: await performRevocation(ctx, principal.id, name) };
    }),
  );
}

/** Records the revocation (effective for the vault at once), then publishes it on the CRL. */
export async function performRevocation(
  ctx: VaultContext,
  actor: string,
  name: string,
  approval?: Approval,
): Promise<LedgerIdentity[]> {
  const live = liveIdentities(ctx, name);
  const serialNumbers = live.map((identity) => identity.serialNumber);
  await ctx.guard.fact(
    actor,
    FACT.identityRevoked,
    `principal:${name}`,
    `revoked ${serialNumbers.length} identit(ies) of ${name}`,
    {
      serialNumbers,
      ...approval,
    },
  );
  await ctx.revocations.publish(ctx.ledger);
  return live;
}

export async function activateIdentity(
  ctx: VaultContext,
  serialNumber: string,
  approval: Approval,
): Promise<void> {
  const identity = ctx.ledger.identities.get(serialNumber);
  if (identity === undefined || identity.revoked) {
    throw new CustodyError("ERR_NOT_FOUND", `no issued, unrevoked identity ${serialNumber} to activate`);
  }
  await ctx.guard.fact(
    approval.approvedBy,
    FACT.identityActivated,
    `principal:${identity.name}`,
    `identity ${serialNumber} of ${identity.name} activated`,
    {
      serialNumber,
      ...approval,
    },
  );
}

function liveIdentities(ctx: VaultContext, name: string): LedgerIdentity[] {
  const live = ctx.ledger.identitiesOf(name).filter((identity) => !identity.revoked);
  if (live.length === 0)
    throw new CustodyError("ERR_NOT_FOUND", `no unrevoked identity was issued to ${name}`);
  return live;
}
