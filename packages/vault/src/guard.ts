import {
  type AccessPolicy,
  type Action,
  authorize,
  authorizeForAnyDevice,
  type Resource,
} from "@custody/access";
import type {
  AuditEvent,
  AuditLog,
  AuditRecord,
  InclusionProofBundle,
  SignedCheckpoint,
} from "@custody/audit";
import { type Clock, CustodyError, isCustodyError, type JsonValue } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { FactAction, FactDetails } from "./facts.js";
import { backOff, RACE_RETRIES } from "./races.js";

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

/** A decision on several grants at once, under an audit action of its own (`live.command`). */
export interface CombinedRequest {
  principal: AuthenticatedPrincipal;
  auditAction: string;
  checks: readonly { action: Action; resource: Resource }[];
  target: string;
  details?: Record<string, JsonValue>;
  /** Found before the grants were looked at (a setting off, a closed session): recorded as the denial. */
  refusal?: CustodyError;
  /**
   * Checked against the state the decision is appended on (again after a replica's race): throwing
   * stops the decision with nothing recorded (an action another server claimed meanwhile).
   */
  precondition?: () => void;
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
  /** Facts appended and not yet durable: the ledger learns them only once they are. */
  readonly #factsInFlight = new Set<Promise<unknown>>();

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
  async policy(): Promise<AccessPolicy> {
    return (await this.settledState()).policy;
  }

  /**
   * Waits until every fact appended so far is durable (so the ledger states it), then reads the policy.
   * A record appended synchronously after this resolves sits right after the state it was decided on:
   * a decision never goes into the log behind a fact it did not see. Waiting costs nothing a record
   * would not wait anyway: it could not be durable before the facts ahead of it in the log.
   */
  async settledState(): Promise<{ policy: AccessPolicy }> {
    for (;;) {
      // Replicas: what the others appended first (one read shared by the callers waiting for it).
      await this.#audit.catchUp();
      while (this.#factsInFlight.size > 0) await Promise.allSettled([...this.#factsInFlight]);
      const policy = await this.#policy();
      if (this.#factsInFlight.size === 0) return { policy };
    }
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
    const base = {
      actor: principal.id,
      action,
      target,
      details: { ...request.details, ...requestDetails(principal) },
    };
    const allowed = await this.#decided((policy) => {
      // Checked again on the settled state: a revocation may have landed while this request waited.
      this.assertAuthenticated(principal);
      const decision = authorize(policy, principal, action, request.resource, { clock: this.#clock });
      return { ...base, outcome: decision.outcome, reason: decision.reason };
    });
    if (allowed.outcome === "deny") throw denied(principal, action, request.publicTarget ?? target);
    try {
      return await perform();
    } catch (error) {
      await this.failed(principal, action, target, error, { decisionSeq: allowed.seq });
      throw error;
    }
  }

  /**
   * One decision on several grants, recorded as one record under its own name (a live-response command
   * needs its action on the device and on the session's case): allowed only when no refusal was found
   * before and every check allows on the settled policy. A denial is recorded, then thrown (the
   * refusal's own error, or ERR_ACCESS_DENIED); nothing may be done before this returns.
   */
  async decideAll(request: CombinedRequest): Promise<AuditRecord> {
    const { principal } = request;
    this.assertAuthenticated(principal);
    const record = await this.#decided((policy) => {
      this.assertAuthenticated(principal);
      request.precondition?.();
      const base = {
        actor: principal.id,
        action: request.auditAction,
        target: request.target,
        details: { ...request.details, ...requestDetails(principal) },
      };
      if (request.refusal !== undefined)
        return { ...base, outcome: "deny", reason: request.refusal.message.slice(0, 2000) };
      for (const check of request.checks) {
        const decision = authorize(policy, principal, check.action, check.resource, { clock: this.#clock });
        if (decision.outcome === "deny") return { ...base, outcome: "deny", reason: decision.reason };
      }
      const reason = request.checks.map((check) => `${check.action} on ${check.resource.kind}`).join(", ");
      return { ...base, outcome: "allow", reason: `allowed: ${reason}` };
    });
    if (record.outcome === "deny") {
      throw request.refusal ?? denied(principal, request.checks[0]?.action ?? "live.basic", request.target);
    }
    return record;
  }

  /** Records what happened after a decision (a command's result, a cancel, a session closed). */
  outcome(
    principal: AuthenticatedPrincipal,
    auditAction: string,
    target: string,
    outcome: "allow" | "error",
    reason: string,
    details: Record<string, JsonValue> = {},
  ): Promise<AuditRecord> {
    return this.#appendRetrying({
      actor: principal.id,
      action: auditAction,
      target,
      outcome,
      reason: reason.slice(0, 2000),
      details: { ...details, ...requestDetails(principal) },
    });
  }

  /** Reads what other replicas appended to the log (a no-op for a vault one process serves). */
  catchUp(): Promise<void> {
    return this.#audit.catchUp();
  }

  /**
   * Appends the record `decide` makes on the settled state, with nothing in between: no fact can slip
   * between the state read and the record. A record that loses the log to another replica first is
   * decided again on the state that replica left.
   */
  async #decided(decide: (policy: AccessPolicy) => AuditEvent): Promise<AuditRecord> {
    for (let attempt = 0; ; ) {
      const { policy } = await this.settledState();
      // A fact may have been appended while the settled state was handed back: settle again.
      if (this.#factsInFlight.size > 0) continue;
      const appended = this.#audit.append(decide(policy));
      try {
        return await appended;
      } catch (error) {
        attempt += 1;
        if (!isCustodyError(error, "ERR_AUDIT_RACE") || attempt > RACE_RETRIES) throw error;
        await backOff(attempt);
      }
    }
  }

  /** Appends a record whose content does not depend on the state, again after a lost race. */
  async #appendRetrying(event: AuditEvent): Promise<AuditRecord> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#audit.append(event);
      } catch (error) {
        if (!isCustodyError(error, "ERR_AUDIT_RACE") || attempt >= RACE_RETRIES) throw error;
        await backOff(attempt + 1);
        await this.#audit.catchUp();
      }
    }
  }

  /**
   * A first gate for work that must read a whole body before its request names a device (an ingest: the
   * package says which device it came from): refuses now, recorded then thrown as `run` refuses, a
   * caller no grant could allow for any device (`authorizeForAnyDevice`), so such a caller costs the
   * vault no copy of the body. Otherwise records nothing: `run` decides, and records, once the device
   * is known.
   */
  async refuseUnlessAnyDeviceAllows(request: GuardedRequest): Promise<void> {
    const { principal, action, target } = request;
    this.assertAuthenticated(principal);
    const { policy } = await this.settledState();
    const decision = authorizeForAnyDevice(policy, principal, action, request.resource, {
      clock: this.#clock,
    });
    if (decision.outcome === "allow") return;
    await this.#appendRetrying({
      actor: principal.id,
      action,
      target,
      outcome: "deny",
      reason: decision.reason,
      details: { ...request.details, ...requestDetails(principal) },
    });
    throw denied(principal, action, request.publicTarget ?? target);
  }

  /** Records a denial that happened before any lookup (the caller learns nothing more than "denied"). */
  async refuse(
    principal: AuthenticatedPrincipal,
    action: Action,
    publicTarget: string,
    reason: string,
  ): Promise<never> {
    this.assertAuthenticated(principal);
    await this.#appendRetrying({
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
    await this.#appendRetrying({
      actor,
      action: LOGIN_ACTION,
      target: "vault",
      outcome: "deny",
      reason,
      details,
    });
  }

  /** Records a refusal of a caller that has no principal (an enrollment whose token does not hold). */
  async refuseAnonymous(
    actor: string,
    action: string,
    target: string,
    reason: string,
    details: Record<string, JsonValue>,
  ): Promise<void> {
    await this.#appendRetrying({ actor, action, target, outcome: "deny", reason, details });
  }

  /** Records what the vault's own service did (a server certificate issued, a CRL re-signed). */
  vaultEvent(
    actor: string,
    action: string,
    target: string,
    reason: string,
    details: Record<string, JsonValue>,
  ) {
    return this.#appendRetrying({ actor, action, target, outcome: "allow", reason, details });
  }

  /**
   * States a fact that has just become true. When another replica appended first, the log is read again
   * and `redo` (when given) checks the fact still holds on the new state, redoing the change if needed;
   * it returns false when the fact no longer needs stating (then nothing is appended).
   */
  async fact<A extends FactAction>(
    actor: string,
    action: A,
    target: string,
    reason: string,
    details: FactDetails<A>,
    redo?: () => Promise<boolean>,
  ): Promise<AuditRecord | undefined> {
    const event = { actor, action, target, outcome: "allow" as const, reason, details: asJson(details) };
    for (let attempt = 0; ; attempt += 1) {
      const appended = this.#audit.append(event);
      const tracked = appended.catch(() => undefined);
      this.#factsInFlight.add(tracked);
      void tracked.then(() => this.#factsInFlight.delete(tracked));
      try {
        return await appended;
      } catch (error) {
        if (!isCustodyError(error, "ERR_AUDIT_RACE") || attempt >= RACE_RETRIES) throw error;
        await backOff(attempt + 1);
        await this.#audit.catchUp();
        if (redo !== undefined && !(await redo())) return undefined;
      }
    }
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
    await this.#appendRetrying({
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
    return this.#appendRetrying({
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
