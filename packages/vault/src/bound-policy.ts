import { type FSWatcher, watch } from "node:fs";
import type { AccessPolicy, AccessPolicyStore } from "@custody/access";
import type { Ledger } from "./ledger.js";
import { assertPolicyBound } from "./policy-facts.js";

/**
 * Replicas: how long a version the log states may stay out of the storage's listing before it is refused,
 * as successive waits before listing again (~1.3 s in all). Seen once under a loaded test run: a stated
 * version not listed by three listings in a row; a version truly missing is refused all the same.
 */
const SHARED_REFRESH_WAITS_MS = [0, 0, 0, 20, 40, 80, 160, 320, 640];

/**
 * The access policy decisions are taken on: always the version the signed log states. A change writes
 * its version first and states it in the log next; while that is in flight, decisions keep using the
 * version the log states (the one they are recorded against), never the newer file. Outside a change,
 * a version the log does not state is refused (ERR_POLICY_INVALID), as at open.
 *
 * A vault one process serves learns of a version file added on disk from the folder's change
 * notifications (`watchDir`): the folder is listed again only after it changed, not on every decision
 * (a listing per request was the largest cost of an audited request on a server). Without
 * notifications (the watch failed), it lists the folder before every decision, as before.
 */
export class BoundPolicy {
  #bound: { version: number; hash: string; policy: AccessPolicy } | undefined;
  #changing = 0;
  /** Changes notified in the policy folder, and how many of them the last successful listing covered. */
  #notified = 1;
  #listed = 0;
  #watcher: FSWatcher | undefined;

  private readonly ledger: Ledger;
  private readonly store: AccessPolicyStore;

  /** Replicas share the versions: one written by another replica may not be stated yet. */
  private readonly shared: boolean;

  /** `watchDir`: the policy folder of a vault one process serves, watched for versions added on disk. */
  constructor(ledger: Ledger, store: AccessPolicyStore, shared = false, watchDir?: string) {
    this.ledger = ledger;
    this.store = store;
    this.shared = shared;
    this.#remember();
    if (!shared && watchDir !== undefined) this.#watch(watchDir);
  }

  async current(): Promise<AccessPolicy> {
    if (this.shared) return this.#sharedCurrent();
    if (this.#changing === 0 && (this.#listed !== this.#notified || this.#watcher === undefined)) {
      // A change notified while the listing runs is listed next time; a listing that fails (a version
      // that does not check) is tried again on every decision, so it keeps refusing.
      const notified = this.#notified;
      await this.store.refresh();
      this.#listed = notified;
    }
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

  /**
   * Replicas: the caught-up log says which version holds; it is read only when this replica has not seen
   * it yet (one listing saved per decision). Versions another replica wrote but has not stated yet are
   * never used; a stated version the storage does not hold is refused (ERR_POLICY_INVALID).
   */
  async #sharedCurrent(): Promise<AccessPolicy> {
    for (let attempt = 0; ; attempt += 1) {
      if (this.#remember()) return this.store.policy;
      const head = this.ledger.policyHead;
      const stated = head === undefined ? undefined : this.store.recentVersion(head.version);
      if (stated !== undefined && stated.hash === head?.hash) return stated.policy;
      const wait = SHARED_REFRESH_WAITS_MS[attempt];
      if (wait === undefined) break;
      // The log may have moved on while the versions were listed: list again.
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await this.store.refresh();
    }
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

  /** Stops watching the policy folder (the vault is closing). */
  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #watch(dir: string): void {
    try {
      const watcher = watch(dir, { persistent: false }, () => {
        this.#notified += 1;
      });
      // a watch that breaks (the folder removed, the watch limit reached) falls back to listing every time
      watcher.on("error", () => {
        if (this.#watcher === watcher) this.#watcher = undefined;
        watcher.close();
      });
      this.#watcher = watcher;
    } catch {
      this.#watcher = undefined;
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
