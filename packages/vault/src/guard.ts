import { type AccessPolicy, type Action, authorize, type Resource } from "@custody/access";
import type { AuditLog, AuditRecord, InclusionProofBundle, SignedCheckpoint } from "@custody/audit";
import { type Clock, CustodyError, isCustodyError, type JsonValue } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { FactAction, FactDetails } from "./facts.js";

export interface GuardedRequest {
  principal: AuthenticatedPrincipal;
  action: Action;
  resource: Resource;
  /** The audit record's target, e.g. `item:<case>/<sha256>` or `case:A`. */
  target: string;
  /** What a refused caller is told the target was; never more than the caller asked about. */
  publicTarget?: string;
  details?: Record<string, JsonValue>;
}

/**
 * The only writer of audit records. Every vault operation runs through `run`: authorize, record the
 * decision durably, then act; a denial is recorded and changes nothing; a failure after the decision is
 * recorded as `error`. Facts (what really changed) are recorded through `fact` once the change is done,
 * and the ledger learns them from the log itself.
 */
export class Guard {
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #policy: () => Promise<AccessPolicy>;
  readonly #isAuthenticated: (principal: AuthenticatedPrincipal) => boolean;

  constructor(
    audit: AuditLog,
    clock: Clock,
    policy: () => Promise<AccessPolicy>,
    isAuthenticated: (principal: AuthenticatedPrincipal) => boolean,
  ) {
    this.#audit = audit;
    this.#clock = clock;
    this.#policy = policy;
    this.#isAuthenticated = isAuthenticated;
  }

  assertAuthenticated(principal: AuthenticatedPrincipal): void {
    if (!this.#isAuthenticated(principal)) {
      throw new CustodyError("ERR_IDENTITY_INVALID", "the principal was not authenticated by this vault");
    }
  }

  /** The access policy as the signed log last stated it (refused when the files say otherwise). */
  policy(): Promise<AccessPolicy> {
    return this.#policy();
  }

  allows(
    policy: AccessPolicy,
    principal: AuthenticatedPrincipal,
    action: Action,
    resource: Resource,
  ): boolean {
    return authorize(policy, principal, action, resource, { clock: this.#clock }).outcome === "allow";
  }

  async run<T>(request: GuardedRequest, perform: () => Promise<T>): Promise<T> {
    const { principal, action, target } = request;
    this.assertAuthenticated(principal);
    const decision = authorize(await this.#policy(), principal, action, request.resource, {
      clock: this.#clock,
    });
    const base = {
      actor: principal.id,
      action,
      target,
      details: { ...request.details, ...requestDetails(principal) },
    };
    if (decision.outcome === "deny") {
      await this.#audit.append({ ...base, outcome: "deny", reason: decision.reason });
      throw denied(principal, action, request.publicTarget ?? target);
    }
    const allowed = await this.#audit.append({ ...base, outcome: "allow", reason: decision.reason });
    try {
      return await perform();
    } catch (error) {
      await this.failed(principal, action, target, error, { decisionSeq: allowed.seq });
      throw error;
    }
  }

  /** Records a denial that happened before any lookup (the caller learns nothing more than "denied"). */
  async refuse(
    principal: AuthenticatedPrincipal,
    action: Action,
    publicTarget: string,
    reason: string,
  ): Promise<never> {
    this.assertAuthenticated(principal);
    await this.#audit.append({
      actor: principal.id,
      action,
      target: publicTarget,
      outcome: "deny",
      reason,
      details: requestDetails(principal),
    });
    throw denied(principal, action, publicTarget);
  }

  /** Records a refused login (a certificate the vault does not accept, a refused TLS handshake). */
  async refuseLogin(actor: string, reason: string, details: Record<string, JsonValue>): Promise<void> {
    await this.#audit.append({
      actor,
      action: LOGIN_ACTION,
      target: "vault",
      outcome: "deny",
      reason,
      details,
    });
  }

  /** Records what the vault's own service did (a server certificate issued, a CRL re-signed). */
  vaultEvent(
    actor: string,
    action: string,
    target: string,
    reason: string,
    details: Record<string, JsonValue>,
  ) {
    return this.#audit.append({ actor, action, target, outcome: "allow", reason, details });
  }

  /** States a fact that has just become true. */
  fact<A extends FactAction>(
    actor: string,
    action: A,
    target: string,
    reason: string,
    details: FactDetails<A>,
  ): Promise<AuditRecord> {
    return this.#audit.append({ actor, action, target, outcome: "allow", reason, details: asJson(details) });
  }

  /** Records something that went wrong or was found wrong (an integrity finding, a failed read). */
  async failed(
    principal: AuthenticatedPrincipal,
    action: Action,
    target: string,
    error: unknown,
    details: Record<string, JsonValue> = {},
  ): Promise<void> {
    const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
    await this.#audit.append({
      actor: principal.id,
      action,
      target,
      outcome: "error",
      reason: `${code}: ${(error as Error).message}`.slice(0, 2000),
      details: { ...details, ...requestDetails(principal) },
    });
  }

  /** A record of an allowed operation beyond its decision (how many items a listing returned). */
  note(principal: AuthenticatedPrincipal, action: Action, target: string, reason: string, details = {}) {
    return this.#audit.append({
      actor: principal.id,
      action,
      target,
      outcome: "allow",
      reason,
      details: { ...details, ...(principal.request === undefined ? {} : requestDetails(principal)) },
    });
  }

  // Reading the log is not writing it: these never append.
  records(since = 0): AsyncIterable<AuditRecord> {
    return this.#audit.read({ since });
  }

  checkpoint(): Promise<SignedCheckpoint> {
    return this.#audit.checkpoint();
  }

  proveInclusions(seqs: readonly number[], checkpoint?: SignedCheckpoint): Promise<InclusionProofBundle[]> {
    return this.#audit.proveInclusions(seqs, checkpoint);
  }

  verify(options: Parameters<AuditLog["verify"]>[0]) {
    return this.#audit.verify(options);
  }
}

/** The action of a login refused before any vault operation. */
export const LOGIN_ACTION = "identity.login";

/** The actor's serial, and for a server request its request id and client address. */
function requestDetails(principal: AuthenticatedPrincipal): Record<string, JsonValue> {
  const { request } = principal;
  return {
    actorSerial: principal.serialNumber,
    ...(request === undefined ? {} : { requestId: request.requestId, clientAddress: request.clientAddress }),
  };
}

function denied(principal: AuthenticatedPrincipal, action: Action, publicTarget: string): CustodyError {
  return new CustodyError("ERR_ACCESS_DENIED", `${principal.id} may not ${action} ${publicTarget}`, {
    details: { action, target: publicTarget },
  });
}

function asJson(value: object): Record<string, JsonValue> {
  return JSON.parse(JSON.stringify(value)) as Record<string, JsonValue>;
}
