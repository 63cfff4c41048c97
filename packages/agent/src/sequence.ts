import { protocolError } from "./protocol-error.js";

/** The first `seq` each side sends on a new connection; every next frame is exactly one more. */
export const FIRST_SEQ = 1;

/** Numbers the frames one side sends on one connection. */
export class SequenceCounter {
  #next = FIRST_SEQ;

  next(): number {
    return this.#next++;
  }
}

/** Checks the frames one side receives: a gap, a repeat or a reorder is a protocol error (close 1008). */
export class SequenceChecker {
  #expected = FIRST_SEQ;

  accept(seq: number): void {
    if (seq !== this.#expected) {
      const reason = seq < this.#expected ? "seq-repeat" : "seq-gap";
      throw protocolError(reason, `frame seq ${seq}, expected ${this.#expected}`, {
        seq,
        expected: this.#expected,
      });
    }
    this.#expected++;
  }

  get expected(): number {
    return this.#expected;
  }
}
