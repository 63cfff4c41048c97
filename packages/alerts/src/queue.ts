/**
 * A FIFO that keeps at most `capacity` items. When full, it drops the oldest item of the lowest rank,
 * so a flood of minor alerts cannot push out a critical one (a flood of equal ones drops the oldest).
 */
export class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  readonly #rank: (item: T) => number;

  constructor(capacity: number, rank: (item: T) => number = () => 0) {
    this.#capacity = capacity;
    this.#rank = rank;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Adds an item; returns the item dropped to make room, if any. */
  push(item: T): T | undefined {
    this.#items.push(item);
    if (this.#items.length <= this.#capacity) return undefined;
    let victim = 0;
    for (let i = 1; i < this.#items.length; i += 1) {
      if (this.#rank(this.#items[i] as T) < this.#rank(this.#items[victim] as T)) victim = i;
    }
    return this.#items.splice(victim, 1)[0];
  }

  shift(): T | undefined {
    return this.#items.shift();
  }

  /** Empties the queue, returning what it held. */
  drain(): T[] {
    return this.#items.splice(0);
  }
}
