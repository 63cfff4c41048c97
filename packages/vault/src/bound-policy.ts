import type { AccessPolicy, AccessPolicyStore } from "@custody/access";
import type { Ledger } from "./ledger.js";
import { assertPolicyBound } from "./policy-facts.js";

/**
 * The access policy decisions are taken on: always the version the signed log states. A change writes
 * its version first and states it in the log next; while that is in flight, decisions keep using the
 * version the log states (the one they are recorded against), never the newer file. Outside a change,
 * a version the log does not state is refused (ERR_POLICY_INVALID), as at open.
 */
export class BoundPolicy {
  #bound: { version: number; hash: string; policy: AccessPolicy } | undefined;
  #changing = 0;

  private readonly ledger: Ledger;
  private readonly store: AccessPolicyStore;

  constructor(ledger: Ledger, store: AccessPolicyStore) {
    this.ledger = ledger;
    this.store = store;
    this.#remember();
  }

  async current(): Promise<AccessPolicy> {
    if (this.#changing === 0) await this.store.refresh();
    if (this.#remember()) return this.store.policy;
    const head = this.ledger.policyHead;
    const bound = this.#bound;
    if (
      this.#changing > 0 &&
      bound !== undefined &&
      bound.version === head?.version &&
      bound.hash === head.hash
    )
      return bound.policy;
    assertPolicyBound({ ledger: this.ledger, policy: this.store });
    return this.store.policy;
  }

  /** Runs one policy change (write the version, then state it); decisions meanwhile use the stated version. */
  async change<T>(work: () => Promise<T>): Promise<T> {
    this.#changing += 1;
    try {
      return await work();
    } finally {
      this.#changing -= 1;
      this.#remember();
    }
  }

  #remember(): boolean {
    const head = this.ledger.policyHead;
    const { version, hash } = this.store;
    if (head === undefined || head.version !== version || head.hash !== hash) return false;
    if (this.#bound?.hash !== hash) this.#bound = { version, hash, policy: this.store.policy };
    return true;
  }
}
