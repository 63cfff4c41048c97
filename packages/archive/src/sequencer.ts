/** Hands out turns in the order they were taken: entries added concurrently are written in call order. */
export class Sequencer {
  #tail: Promise<void> = Promise.resolve();

  take(): { ready: Promise<void>; done: () => void } {
    const ready = this.#tail;
    let done: () => void = () => {};
    this.#tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    return { ready, done };
  }

  /** Resolves once every turn taken so far is done. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
