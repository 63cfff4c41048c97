/**
 * Named in-process locks for check-then-act sections: a hold and a release of one item, a custodian
 * count and the grant it allows, are each checked and recorded with nobody else changing the same
 * state in between. Waiters are served in arrival order; several keys are taken in one sorted order,
 * so two sections never wait for each other.
 */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async with<T>(keys: readonly string[], section: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    try {
      for (const key of unique) releases.push(await this.#acquire(key));
      return await section();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  async #acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release: () => void = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}

/** The lock of one item (a case's copy of some bytes). */
export const itemLock = (caseId: string, id: string): string => `item:${caseId}/${id}`;
/** The lock of the access policy, the identities and the custodian rule (one state, one lock). */
export const ACCESS_LOCK = "access";
/** The lock of the vault's signer. */
export const KEYS_LOCK = "keys";
