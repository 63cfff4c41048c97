/**
 * A readers-writer gate in front of the vault. Policy changes write the policy file and then state the
 * change in the log; a request that reads the policy in between would find the file ahead of the log and
 * be refused (ERR_POLICY_INVALID). Until the vault orders that itself, the server runs policy changes one
 * at a time and alone, and everything else side by side. Writers go first once they wait.
 */
export class VaultGate {
  #readers = 0;
  #writing = false;
  #waitingWriters: (() => void)[] = [];
  #waitingReaders: (() => void)[] = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    if (this.#writing || this.#waitingWriters.length > 0) {
      await new Promise<void>((resolve) => this.#waitingReaders.push(resolve));
    } else {
      this.#readers += 1;
    }
    try {
      return await work();
    } finally {
      this.#readers -= 1;
      this.#next();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#writing || this.#readers > 0) {
      await new Promise<void>((resolve) => this.#waitingWriters.push(resolve));
    } else {
      this.#writing = true;
    }
    try {
      return await work();
    } finally {
      this.#writing = false;
      this.#next();
    }
  }

  #next(): void {
    if (this.#writing || this.#readers > 0) return;
    const writer = this.#waitingWriters.shift();
    if (writer !== undefined) {
      this.#writing = true;
      writer();
      return;
    }
    const readers = this.#waitingReaders.splice(0);
    this.#readers += readers.length;
    for (const reader of readers) reader();
  }
}

/** VaultApi methods that change the access policy (or may open an approval request, which is policy too). */
export const POLICY_OPERATIONS: ReadonlySet<string> = new Set([
  "grant",
  "revoke",
  "approve",
  "issueIdentity",
  "revokeIdentity",
  "release",
  "purge",
  "rotateSigner",
]);
