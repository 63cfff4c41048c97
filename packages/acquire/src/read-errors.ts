import type { ReadError } from "@custody/audit";

const MAX_RUNS = 10_000;

/** Unreadable sectors, merged into runs as they are found (in increasing offset order). */
export class ReadErrorLog {
  readonly #runs: ReadError[] = [];
  #truncated = false;
  bytes = 0;
  retries = 0;

  add(offset: number, length: number, code: string): void {
    this.bytes += length;
    const last = this.#runs.at(-1);
    if (last !== undefined && last.offset + last.length === offset && last.code === code) {
      last.length += length;
      return;
    }
    if (this.#runs.length >= MAX_RUNS) {
      this.#truncated = true;
      return;
    }
    this.#runs.push({ offset, length, code });
  }

  /** The record's view: runs, whether some were left out, and the totals. */
  toRecord(): {
    readErrors: ReadError[];
    readErrorBytes: number;
    retries: number;
    readErrorsTruncated?: true;
  } {
    return {
      readErrors: this.#runs.map((run) => ({ ...run })),
      readErrorBytes: this.bytes,
      retries: this.retries,
      ...(this.#truncated ? { readErrorsTruncated: true as const } : {}),
    };
  }
}
