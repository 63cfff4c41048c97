import type { ContainerClient } from "@azure/storage-blob";
import { type Clock, CustodyError } from "@custody/core";
import { validRetention } from "@custody/store";
import type { BlobRecord, ObjectState } from "./blob-record.js";
import { readLibraryState, removeLibraryState, writeLibraryState } from "./state.js";

const MAX_CAS_ATTEMPTS = 50;

/** Hold, retention and delete rules enforced by this library when the service does not enforce them. */
export class LibraryProtection {
  readonly #container: ContainerClient;
  readonly #clock: Clock;

  constructor(container: ContainerClient, clock: Clock) {
    this.#container = container;
    this.#clock = clock;
  }

  /** Applies `change` as the next state revision (compare-and-swap; retried when another writer won). */
  async change(
    record: BlobRecord,
    change: (state: ObjectState) => ObjectState | undefined,
  ): Promise<ObjectState> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt += 1) {
      const { state, revision } = await readLibraryState(this.#container, record);
      if (state.deleted) {
        throw new CustodyError("ERR_NOT_FOUND", `no object with key ${JSON.stringify(record.key)}`, {
          details: { key: record.key },
        });
      }
      const next = change(state);
      if (next === undefined) return state;
      if (await writeLibraryState(this.#container, record, revision + 1, next, this.#clock.now()))
        return next;
    }
    throw new CustodyError("ERR_CONFLICT", `${JSON.stringify(record.key)} is changing too fast; try again`);
  }

  async extend(record: BlobRecord, until: Date): Promise<ObjectState> {
    return this.change(record, (state) => this.extendedState(record.key, state, until));
  }

  /** The state with retention moved to `until`; undefined when unchanged; ERR_IMMUTABLE when it would shorten. */
  extendedState(key: string, state: ObjectState, until: Date): ObjectState | undefined {
    if (!(until instanceof Date) || Number.isNaN(until.getTime())) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "retention must be a valid Date");
    }
    const current = state.retainUntil === undefined ? undefined : new Date(state.retainUntil).getTime();
    if (current !== undefined && until.getTime() < current) {
      throw new CustodyError("ERR_IMMUTABLE", `the retention of ${JSON.stringify(key)} cannot be shortened`, {
        details: { key, retainUntil: state.retainUntil, requested: until.toISOString() },
      });
    }
    if (current === until.getTime()) return undefined;
    return { ...state, retainUntil: validRetention(until, this.#clock).toISOString() };
  }

  assertDeletable(key: string, state: ObjectState): void {
    if (state.legalHold) {
      throw new CustodyError("ERR_IMMUTABLE", `${JSON.stringify(key)} is under legal hold`, {
        details: { key },
      });
    }
    if (
      state.retainUntil !== undefined &&
      new Date(state.retainUntil).getTime() > this.#clock.now().getTime()
    ) {
      throw new CustodyError(
        "ERR_IMMUTABLE",
        `${JSON.stringify(key)} is retained until ${state.retainUntil}`,
        {
          details: { key, retainUntil: state.retainUntil },
        },
      );
    }
  }

  async forget(record: BlobRecord): Promise<void> {
    await removeLibraryState(this.#container, record);
  }
}
