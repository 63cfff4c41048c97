/** A FIFO that keeps at most `capacity` items by dropping the oldest. */
export class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Adds an item; returns the item dropped to make room, if any. */
  push(item: T): T | undefined {
    this.#items.push(item);
    return this.#items.length > this.#capacity ? this.#items.shift() : undefined;
  }

  shift(): T | undefined {
    return this.#items.shift();
  }

  /** Empties the queue, returning what it held. */
  drain(): T[] {
    return this.#items.splice(0);
  }
}
