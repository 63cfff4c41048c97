import {
  type Clock,
  CustodyError,
  canonicalJsonBytes,
  type IdGenerator,
  type Logger,
  silentLogger,
  systemClock,
  throwIfAborted,
  uuidv7Generator,
} from "@custody/core";
import type { Action } from "./actions.js";
import { authorize, type Decision } from "./authorize.js";
import { ensureDirectory, removeDeadTempFiles, writeVersionFile } from "./files.js";
import { loadVersions, type PolicyVersion } from "./history.js";
import { createInitialPolicy, custodiansOf, policyHash, requiresApproval } from "./policy.js";
import type { AccessPolicy, Actor, ApprovableChange, PolicyChange } from "./schema.js";
import { principalIdSchema } from "./schema.js";
import type { Resource } from "./scope.js";
import type {
  AccessPolicyStoreOptions,
  ApprovalResult,
  InitOptions,
  PolicyChangeResult,
  WriteOptions,
} from "./store-types.js";
import {
  applyTransition,
  approveTransition,
  cancelTransition,
  proposeTransition,
  type Transition,
} from "./transitions.js";

export const DEFAULT_APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The access policy kept as numbered, hash-chained versions in one directory (`000001.json`, ...).
 * Every change is validated, authorized, then written atomically as the next version; old versions
 * stay, so the history can be checked. A version written by another process first gives ERR_CONFLICT.
 */
export class AccessPolicyStore {
  readonly dir: string;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  #head: PolicyVersion;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, head: PolicyVersion, options: AccessPolicyStoreOptions) {
    this.dir = dir;
    this.#head = head;
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? uuidv7Generator(this.#clock);
    this.#ttlMs = options.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Creates the directory's first version with `custodian` as the only custodian; ERR_ALREADY_EXISTS if present. */
  static async init(
    dir: string,
    custodian: Actor | string,
    options: InitOptions = {},
  ): Promise<AccessPolicyStore> {
    const parsed = principalIdSchema.safeParse(typeof custodian === "string" ? custodian : custodian?.id);
    if (!parsed.success)
      throw new CustodyError("ERR_INVALID_ARGUMENT", "the first custodian is not a valid principal");
    const id = parsed.data;
    const policy = createInitialPolicy({
      custodian: id,
      at: (options.clock ?? systemClock).now(),
      roles: options.roles,
    });
    await ensureDirectory(dir);
    try {
      await writeVersionFile(dir, 1, canonicalJsonBytes(policy));
    } catch (cause) {
      if (cause instanceof CustodyError && cause.code === "ERR_CONFLICT") {
        throw new CustodyError("ERR_ALREADY_EXISTS", `an access policy already exists in ${dir}`, { cause });
      }
      throw cause;
    }
    return new AccessPolicyStore(dir, { policy, hash: policyHash(policy) }, options);
  }

  /** Loads and checks the whole history; ERR_NOT_FOUND when empty, ERR_POLICY_INVALID when tampered. */
  static async open(dir: string, options: AccessPolicyStoreOptions = {}): Promise<AccessPolicyStore> {
    const versions = await loadVersions(dir);
    await removeDeadTempFiles(dir);
    const head = versions.at(-1);
    if (head === undefined) throw new CustodyError("ERR_NOT_FOUND", `no access policy in ${dir}`);
    return new AccessPolicyStore(dir, head, options);
  }

  /** The newest version this store has seen (call `refresh()` to pick up other writers). */
  get policy(): AccessPolicy {
    return this.#head.policy;
  }

  get version(): number {
    return this.#head.policy.version;
  }

  get hash(): string {
    return this.#head.hash;
  }

  /** Reads versions other processes wrote since, checking each link. */
  async refresh(): Promise<AccessPolicy> {
    const newer = (await loadVersions(this.dir, this.#head)).at(-1);
    // two refreshes may overlap (a server runs requests side by side): the head only moves forward
    if (newer !== undefined && newer.policy.version > this.#head.policy.version) this.#head = newer;
    return this.#head.policy;
  }

  /** `authorize` against the current version with the store's clock. */
  authorize(principal: Actor, action: Action, resource: Resource): Decision {
    return authorize(this.#head.policy, principal, action, resource, { clock: this.#clock });
  }

  custodians(): string[] {
    return custodiansOf(this.#head.policy);
  }

  requiresApproval(change: ApprovableChange): boolean {
    return requiresApproval(this.#head.policy, change);
  }

  /** Makes a policy change; ERR_APPROVAL_REQUIRED when the second custodian must approve it (use `propose`). */
  apply(change: PolicyChange, by: Actor, options: WriteOptions = {}): Promise<PolicyChangeResult> {
    return this.#commit(options, (policy, at) => applyTransition(policy, change, by, at));
  }

  /** Opens an approval request; the result's `request.id` is what the other custodian approves. */
  propose(change: ApprovableChange, by: Actor, options: WriteOptions = {}): Promise<ApprovalResult> {
    return this.#commitRequest(options, (policy, at) =>
      proposeTransition(policy, change, by, {
        at,
        id: this.#ids.next(),
        expiresAt: new Date(at.getTime() + this.#ttlMs),
      }),
    );
  }

  /**
   * A custodian other than the proposer approves. Policy changes take effect in this version; for
   * release-hold and purge the caller performs the operation now (`result.request.change`).
   */
  approve(requestId: string, by: Actor, options: WriteOptions = {}): Promise<ApprovalResult> {
    return this.#commitRequest(options, (policy, at) => approveTransition(policy, requestId, by, at));
  }

  /** The proposer or a custodian withdraws a request. */
  cancel(requestId: string, by: Actor, options: WriteOptions = {}): Promise<ApprovalResult> {
    return this.#commitRequest(options, (policy, at) => cancelTransition(policy, requestId, by, at));
  }

  /** Every version from 1, re-checked from disk. */
  async history(): Promise<AccessPolicy[]> {
    return (await loadVersions(this.dir)).map((version) => version.policy);
  }

  async #commitRequest(
    options: WriteOptions,
    make: (policy: AccessPolicy, at: Date) => Transition,
  ): Promise<ApprovalResult> {
    const result = await this.#commit(options, make);
    const { request } = result;
    if (request === undefined)
      throw new CustodyError("ERR_INTERNAL", "an approval transition lost its request");
    return { ...result, request };
  }

  // One write at a time per store; other processes are caught by the no-replace link.
  #commit(
    options: WriteOptions,
    make: (policy: AccessPolicy, at: Date) => Transition,
  ): Promise<PolicyChangeResult> {
    const run = this.#queue.then(() => this.#write(options, make));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #write(
    options: WriteOptions,
    make: (policy: AccessPolicy, at: Date) => Transition,
  ): Promise<PolicyChangeResult> {
    throwIfAborted(options.abortSignal);
    await this.refresh();
    const head = this.#head;
    if (options.expectedVersion !== undefined && options.expectedVersion !== head.policy.version) {
      throw new CustodyError(
        "ERR_CONFLICT",
        `the policy is at version ${head.policy.version}, not ${options.expectedVersion}; re-read it and retry`,
        { details: { expectedVersion: options.expectedVersion, version: head.policy.version } },
      );
    }
    const transition = make(head.policy, this.#clock.now());
    const next = transition.policy;
    throwIfAborted(options.abortSignal);
    await writeVersionFile(this.dir, next.version, canonicalJsonBytes(next));
    this.#head = { policy: next, hash: policyHash(next) };
    this.#logger.info(
      { version: next.version, event: next.event.kind, by: next.event.by },
      "access policy changed",
    );
    const result: PolicyChangeResult = {
      version: next.version,
      hash: this.#head.hash,
      previous: next.previous,
      event: next.event,
      decision: transition.decision,
      policy: next,
    };
    if (transition.request !== undefined) result.request = transition.request;
    return result;
  }
}
